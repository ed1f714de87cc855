"""Hand edits of `generated/`: found from the record in `status.yaml`, restored (`onDrift: restore`, the
default) or reported and not applied (`onDrift: report`); a folder the reconciler did not write is never
listed in the index Argo CD and Flux apply."""

from __future__ import annotations

import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote

OUT = "generated/team-a/chat"
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: evil\n  namespace: kube-system\nspec:\n  containers: []\n"


def _files(person) -> dict[str, bytes]:
    folder = person.root / OUT
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _generated(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.write("requests/team-b/other.yaml", request_yaml("other"))
    person.commit_and_push("two requests")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    reconciler.run_pass(full=True)
    person.pull()
    return person, reconciler


def _hand_edit(person) -> dict[str, bytes]:
    """A swapped image in the DGD, a Pod added to the folder, a hand-set state; returns the files before."""
    before = _files(person)
    dgd = (person.root / OUT / "dgd.yaml").read_text()
    assert "tensorrtllm-runtime:0.8.1" in dgd
    person.write(f"{OUT}/dgd.yaml", dgd.replace("tensorrtllm-runtime:0.8.1", "evil/miner:latest"))
    person.write(f"{OUT}/pod.yaml", POD)
    person.write(f"{OUT}/status.yaml", (person.root / OUT / "status.yaml").read_text()
                 .replace("state: Deploying", "state: Ready"))
    person.write("generated/kube-system/evil/pod.yaml", POD)  # a folder the reconciler never wrote ...
    index = (person.root / "generated/kustomization.yaml").read_text()
    person.write("generated/kustomization.yaml", index + '- "kube-system/evil"\n')  # ... listed by hand
    person.commit_and_push("hand edits")
    return before


def test_hand_edits_are_found_and_restored_by_default(remote, tmp_path, profile_cache):
    person, reconciler = _generated(remote, tmp_path, profile_cache)
    before = _hand_edit(person)

    report = reconciler.run_pass()

    [outcome] = report.worked
    assert (outcome.namespace, outcome.action) == ("team-a", "restored")
    assert "dgd.yaml changed" in outcome.message and "pod.yaml added" in outcome.message
    assert "status.yaml edited" in outcome.message
    person.pull()
    after = _files(person)
    assert set(after) == set(before) and after["dgd.yaml"] == before["dgd.yaml"]
    status = yaml.safe_load(after["status.yaml"])
    assert status["status"]["state"] == "Deploying"
    assert any("dgd.yaml changed by hand: restored" == note for note in status["drift"])
    index = (person.root / "generated/kustomization.yaml").read_text()
    assert "team-a/chat" in index and "kube-system" not in index
    subjects = person.log("-2", "--format=%s")  # the restore, then the index without the hand-listed folder
    assert "restore generated output edited by hand" in subjects and "update the index" in subjects
    # Restored: a second pass and a fresh process find nothing to do.
    assert reconciler.run_pass().worked == []
    assert cached_reconciler(remote, tmp_path / "cache2", profile_cache).run_pass(full=True).worked == []


def test_a_hand_set_state_alone_is_restored(remote, tmp_path, profile_cache):
    person, reconciler = _generated(remote, tmp_path, profile_cache)
    status = (person.root / OUT / "status.yaml").read_text()
    person.write(f"{OUT}/status.yaml", status.replace("state: Deploying", "state: Ready"))
    person.commit_and_push("Ready, by hand")

    [outcome] = reconciler.run_pass().worked

    assert outcome.action == "restored" and "status.yaml edited" in outcome.message
    person.pull()
    assert yaml.safe_load((person.root / OUT / "status.yaml").read_text())["status"]["state"] == "Deploying"


def test_a_replicas_patch_that_swaps_an_image_is_drift(remote, tmp_path, profile_cache):
    person, reconciler = _generated(remote, tmp_path, profile_cache)
    replicas = yaml.safe_load((person.root / OUT / "replicas.yaml").read_text())
    planner_form = (person.root / OUT / "replicas.yaml").read_text()
    service = next(iter(replicas["spec"]["services"]))
    replicas["spec"]["services"][service]["replicas"] = 5  # what the planner does: not drift
    person.write(f"{OUT}/replicas.yaml", yaml.safe_dump(replicas))
    person.commit_and_push("the planner's counts")
    assert reconciler.run_pass().worked == []
    replicas["spec"]["services"][service]["extraPodSpec"] = {"mainContainer": {"image": "evil/miner:latest"}}
    person.write(f"{OUT}/replicas.yaml", yaml.safe_dump(replicas))
    person.commit_and_push("an image through the patch")

    [outcome] = reconciler.run_pass().worked

    assert outcome.action == "restored" and "replicas.yaml patches more than" in outcome.message
    person.pull()
    assert "evil" not in (person.root / OUT / "replicas.yaml").read_text()
    assert planner_form  # the initial patch of the recorded DGD took its place


def test_report_mode_records_the_edits_and_leaves_the_folder_out_of_the_index(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config="apiVersion: gitops-sla.dev/v1alpha1\nkind: RepoConfig\n"
                         "defaultMode: commit\nonDrift: report\n")
    person, reconciler = _generated(remote, tmp_path, profile_cache)
    _hand_edit(person)

    [outcome] = reconciler.run_pass().worked

    assert outcome.action == "drifted"
    person.pull()
    assert "evil/miner" in (person.root / OUT / "dgd.yaml").read_text()  # left as it is ...
    index = (person.root / "generated/kustomization.yaml").read_text()
    assert "team-a/chat" not in index and "team-b/other" in index  # ... and not applied
    status = yaml.safe_load((person.root / OUT / "status.yaml").read_text())
    assert status["status"]["state"] == "Deploying"  # the hand-set Ready is not kept
    assert "dgd.yaml changed by hand: not applied (onDrift: report)" in status["drift"]
    assert reconciler.run_pass().worked == []  # reported once
    fresh = cached_reconciler(remote, tmp_path / "cache2", profile_cache).run_pass(full=True)
    assert [(o.action, o.commit) for o in fresh.worked] == [("drifted", None)] and fresh.commits == []

    # Undoing the edits by hand brings the folder back into the index.
    person.write(f"{OUT}/dgd.yaml", (person.root / OUT / "dgd.yaml").read_text()
                 .replace("evil/miner:latest", "tensorrtllm-runtime:0.8.1"))
    person.remove(f"{OUT}/pod.yaml")
    person.commit_and_push("undo")
    reconciler.run_pass()
    person.pull()
    assert "team-a/chat" in (person.root / "generated/kustomization.yaml").read_text()

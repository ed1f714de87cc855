"""Which Dynamo a generated deployment is for: its DGD API version and the images Dynamo publishes for it.

Dynamo 0.8 reads `nvidia.com/v1alpha1` DGDs and runs its planner (`python3 -m planner_sla`, command-line
flags) from the workers' runtime image; Dynamo 1.x reads `nvidia.com/v1beta1` DGDs and runs its planner
(`python3 -m dynamo.planner --config FILE`) from `nvcr.io/nvidia/ai-dynamo/dynamo-planner:<version>`. Image
names follow Dynamo 1.6.1's `profile_common.py` (`BACKEND_IMAGE_NAMES`, `derive_planner_image`).
"""

from __future__ import annotations

import re

DYNAMO_0_8 = "0.8.1"  # what a v1alpha1 request targets unless gitops-sla.yaml names the cluster's Dynamo
DYNAMO_1 = "1.6.1"  # what a v1beta1 request targets unless gitops-sla.yaml names the cluster's Dynamo
REGISTRY = "nvcr.io/nvidia/ai-dynamo"
PLANNER_IMAGE_NAME = "dynamo-planner"
BACKEND_IMAGE_NAMES = {"vllm": "vllm-runtime", "sglang": "sglang-runtime", "trtllm": "tensorrtllm-runtime"}
VERSION_PATTERN = r"^(0\.8|[1-9][0-9]*\.[0-9]+)\.[0-9]+$"
_VERSION = re.compile(VERSION_PATTERN)


def is_1x(version: str) -> bool:
    """Dynamo 1.0 or later (v1beta1 DGDs, the planner's `--config`)."""
    return int(version.split(".", 1)[0]) >= 1


def dgd_api_version(version: str) -> str:
    """The DGD API version a cluster running Dynamo `version` should be given."""
    return "nvidia.com/v1beta1" if is_1x(version) else "nvidia.com/v1alpha1"


def default_version(request_api_version: str) -> str:
    """The Dynamo a request targets when gitops-sla.yaml names none: the one its own API version belongs to."""
    return DYNAMO_1 if request_api_version.endswith("/v1beta1") else DYNAMO_0_8


def version_problem(version: str) -> str | None:
    """Why `version` is not a Dynamo release this project renders for, or None."""
    if _VERSION.match(version):
        return None
    return f"'{version}' is not a Dynamo release this project renders for: give 0.8.x or 1.x.y (e.g. {DYNAMO_1})"


def published_image(name: str, version: str) -> str:
    """A Dynamo image as NVIDIA publishes it, e.g. `nvcr.io/nvidia/ai-dynamo/dynamo-planner:1.6.1`."""
    return f"{REGISTRY}/{name}:{version}"


def replace_image_name(image: str, name: str) -> str:
    """`image` with its last path component's name replaced, registry path, tag and digest kept (Dynamo's rule
    for deriving the planner and worker images from the image a v1beta1 request names)."""
    slash = image.rfind("/")
    prefix, suffix = image[: slash + 1], image[slash + 1:]
    name_and_tag, at, digest = suffix.partition("@")
    colon = name_and_tag.rfind(":")
    tag = name_and_tag[colon:] if colon >= 0 else ""
    return f"{prefix}{name}{tag}{'@' + digest if at else ''}"

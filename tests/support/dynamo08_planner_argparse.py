# SPDX-FileCopyrightText: Copyright (c) 2025 NVIDIA CORPORATION & AFFILIATES. All rights reserved.
# SPDX-License-Identifier: Apache-2.0
#
# The argument parser of Dynamo 0.8's SLA planner (`python3 -m planner_sla`), as published in the GitHub
# repository ai-dynamo/dynamo, components/src/dynamo/planner/utils/planner_argparse.py (the 0.8 line: the version
# whose flags are the ones Dynamo 0.8.1's profiler renders for its Planner service), Apache License 2.0
# (LICENSES/Apache-2.0.txt). Flags, types, choices and actions are kept; defaults and help texts are left out
# (SLAPlannerDefaults is not vendored). Used by the tests to check the args this project renders for Dynamo's
# own planner: parse_args() fails on a flag or value that planner would refuse.
"""Dynamo 0.8's planner argument parser (flags only), vendored for tests."""

from __future__ import annotations

import argparse


class RefusedArguments(Exception):
    """What Dynamo 0.8's planner would exit with."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits; the tests want the message
        raise RefusedArguments(message)


def create_sla_planner_parser() -> argparse.ArgumentParser:
    parser = _Parser(description="SLA Planner")
    parser.add_argument("--environment", choices=["kubernetes", "virtual"])
    parser.add_argument("--namespace")
    parser.add_argument("--backend", choices=["vllm", "sglang", "trtllm", "mocker"])
    parser.add_argument("--no-operation", action="store_true")
    parser.add_argument("--log-dir")
    parser.add_argument("--adjustment-interval", type=int)
    parser.add_argument("--max-gpu-budget", type=int)
    parser.add_argument("--min-endpoint", type=int)
    parser.add_argument("--decode-engine-num-gpu", type=int)
    parser.add_argument("--prefill-engine-num-gpu", type=int)
    parser.add_argument("--profile-results-dir")
    parser.add_argument("--ttft", type=float)
    parser.add_argument("--itl", type=float)
    parser.add_argument("--load-predictor")
    parser.add_argument("--load-prediction-window-size", type=int)
    parser.add_argument("--prometheus-port", type=int)
    parser.add_argument("--no-correction", action="store_true")
    parser.add_argument("--model-name", type=str)
    return parser

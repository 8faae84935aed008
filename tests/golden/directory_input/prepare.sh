#!/usr/bin/env bash
# A directory given where a log file is expected.
mkdir -p "$WORK/logs"

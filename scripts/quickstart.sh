#!/usr/bin/env bash
# README command (1): install what is needed, build, and run the quickstart job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build/bin/ftengine plugins
build/bin/ftengine validate configs/quickstart.toml

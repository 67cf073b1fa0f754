#!/bin/sh
# Run by payload.sh in the guest: the runtime-tools validation suite,
# built on the host (the guest has no Go), against the runtimes given as
# arguments; its per-program logs come back beside the suite's output.
here=$(dirname "$0")
exec bash "$here/conformance/run.sh" --suite "$here/conformance/suite" \
	--results "$RUNG_VM_OUT/conformance-results" "$@"

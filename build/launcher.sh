#!/bin/sh
# Starts the brmgr program this file is named after (brmgr, brmgr-pre, brmgr-post) from brmgr's V8
# startup snapshot when that was built by this very Node.js binary from this very bundle, and from the
# bundle itself otherwise (and for the supervisor, see below). node crashes on a snapshot it did not
# build, before any of brmgr runs, so the snapshot is used only when the identities (device, inode,
# size, mtime, ctime) of the node binary, the snapshot and the bundle it was built from are those
# brmgr-snapshot-build.mjs recorded after loading it once. Otherwise, where this user may write here,
# that script builds one in the background.
self=$(readlink -f -- "$0") || self=$0
lib=${self%/*}
prog=${self##*/}
node=$(command -v node) || {
	echo "$prog: node (Node.js >= 20.19) not found in PATH" >&2
	exit 127
}
snapshot=$lib/brmgr.snapshot
# brmgr run (or `brmgr BRIDGE`), the supervisor, lasts: node keeps a snapshot in memory for its whole
# life (7 MB, half again the supervisor's own), which its faster start does not pay for. It starts from
# its own bundle with V8's code cache instead (build/run-loader.mjs), which is not kept.
# glibc's malloc, left to itself, raises its thresholds after the first large buffers are freed (reading
# the bundle) and keeps what is freed below them: fixed thresholds hand it back (1.5 MiB of 16 per supervisor;
# the same text in build/run-loader.mjs, which keeps it from the supervisor's children)
if [ "$prog" = brmgr ] && { [ "${1-}" = run ] || [ -e "${BRMGR_CONF_DIR:-/etc/brmgr}/${1-}.conf" ]; }; then
	[ -n "${GLIBC_TUNABLES-}" ] || export GLIBC_TUNABLES=glibc.malloc.trim_threshold=65536:glibc.malloc.mmap_threshold=65536
	exec "$node" "$lib/brmgr-run.mjs" "$@"
fi
# NODE_OPTIONS (a loader, a debugger) would apply to a program the snapshot was not built with
if [ -z "${NODE_OPTIONS-}" ] && [ -z "${BRMGR_NO_SNAPSHOT-}" ]; then
	found=$(stat -L --printf '%d:%i:%s:%Y:%Z;' -- "$node" "$snapshot" "$lib/brmgr-snapshot.cjs" 2>/dev/null)
	recorded=
	[ -r "$snapshot.key" ] && IFS= read -r recorded <"$snapshot.key"
	[ "$found" = "$recorded" ] && exec "$node" --snapshot-blob "$snapshot" -- "$lib/$prog.mjs" "$@"
	# none for this node and bundle (a build that failed for them is not tried again)
	if [ "$recorded" != "failed $found" ] && [ -w "$lib" ]; then
		"$node" "$lib/brmgr-snapshot-build.mjs" "$node" </dev/null >/dev/null 2>&1 &
	fi
fi
exec "$node" "$lib/$prog.mjs" "$@"

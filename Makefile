# vcpu-boost: the commands. The kernel itself is built by scripts/ in the
# cache directory ($VCPU_BOOST_CACHE, default ~/.cache/vcpu-boost).

.PHONY: all setup tree build test test-all test-debug kunit run shell bench patches-edit patches-export

all: build

setup:				## install packages, bindgen and the pinned kernel source
	scripts/setup.sh

tree: setup			## pristine source + overlay + patches/series
	scripts/sync-tree.sh

build: tree			## build the test kernel
	scripts/kunit.sh build

test:				## everything: KUnit suites and the KVM guest stage
	scripts/test.sh

test-all:			## as test, with every KUnit suite of the test kernel
	scripts/test.sh --all

test-debug:			## as test, on a debug kernel (lockdep, atomic-sleep, list, Rust assertions)
	VB_FLAVOR=debug scripts/test.sh

kunit: build			## our KUnit suites only
	scripts/kunit.sh run

run: build			## boot the patched kernel and show the features
	scripts/guest.sh demo

bench: build			## benchmarks: bench/REPORT.md and its plots
	scripts/bench.sh

shell: build			## as run, then a shell inside the test kernel
	scripts/guest.sh shell

patches-edit:			## a git work tree of the patched files, one commit per patch
	scripts/patches.sh edit

patches-export:			## write that work tree back to patches/
	scripts/patches.sh export

# vcpu-boost: the commands. The kernel itself is built by scripts/ in the
# cache directory ($VCPU_BOOST_CACHE, default ~/.cache/vcpu-boost).

.PHONY: all setup tree build test test-all test-debug test-kasan test-kcsan kunit run shell bench xapic-rates flake-rates dy-trace cost-profile strategy-profile dy-cost soak bench-guests lint series series-check patches-edit patches-export

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

test-debug:			## as test, on a debug kernel (lockdep, RCU, atomic-sleep, list, objects, Rust assertions)
	VB_FLAVOR=debug scripts/test.sh

test-kasan:			## as test-debug, plus KASAN and UBSAN (a clang-built kernel)
	VB_FLAVOR=kasan scripts/test.sh

test-kcsan:			## as test-debug, plus KCSAN
	VB_FLAVOR=kcsan scripts/test.sh

kunit: build			## our KUnit suites only
	scripts/kunit.sh run

run: build			## boot the patched kernel and show the features
	scripts/guest.sh demo

bench: build			## benchmarks: bench/REPORT.md and its plots
	scripts/bench.sh

xapic-rates: build		## xapic_ipi_test pass rates with IPI tracking on and off (VB_XAPIC_PAIRS, default 20)
	scripts/guest.sh xapic-rates

soak: build			## a Linux guest runs dbench, hackbench and stress-ng for 3 x 10 min inside the test kernel: no reset
	scripts/soak.sh

bench-guests: build		## Linux guests run dbench, hackbench and stress-ng beside a CPU-bound one, setting by setting: bench/REPORT.md
	scripts/bench-guests.sh

flake-rates: build		## nested-guest shutdowns and internal errors per configuration, this kernel and 7.3.4 without the series: bench/REPORT.md
	scripts/flake-rates.sh

dy-trace: build			## where an IPI round trip's time goes in make bench's kvm part (traced): bench/REPORT.md
	scripts/dy-trace.sh

cost-profile: build		## a hand-off's instructions function by function (a TCG plugin), everything off against 7.3.4 without the series: bench/REPORT.md
	scripts/cost-profile.sh

strategy-profile: build		## what each yield strategy adds to a hand-off, function by function (a TCG plugin), against everything off: bench/REPORT.md
	scripts/cost-profile.sh --strategies $(STRATEGIES)

dy-cost: build			## what IPI tracking and directed yield execute per IPI and per spin exit, function by function (a TCG plugin): bench/REPORT.md
	scripts/dy-cost.sh

lint: build			## rustfmt, checkpatch --strict on the series, W=1 and clippy: all clean
	scripts/lint.sh

series: setup			## the series for review (git format-patch) in $$VCPU_BOOST_CACHE/series/out
	scripts/series.sh export

series-check: build		## prove that git am applies the series and that every prefix builds
	scripts/series.sh check

shell: build			## as run, then a shell inside the test kernel
	scripts/guest.sh shell

patches-edit:			## a git work tree of the patched files, one commit per patch
	scripts/patches.sh edit

patches-export:			## write that work tree back to patches/
	scripts/patches.sh export

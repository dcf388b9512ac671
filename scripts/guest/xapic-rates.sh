#!/bin/sh
# make xapic-rates: upstream x86/xapic_ipi_test in VB_XAPIC_PAIRS (default
# 20) pairs of runs, tracking on and off, alternating which runs first.
# Every run should pass (make test requires it); this counts the two pass
# rates over more runs and shows every failure's assertion, the tool that
# found the lost wakeups that tests/qemu/0005 fixes.
. /stage/lib.sh
n=${VB_XAPIC_PAIRS:-20}
on=0 off=0 i=0
run() {
	echo $1 >$KVM_PARAMS/ipi_tracking_enabled
	timeout 60 /tests/xapic_ipi_test -s 2 >/tmp/x.log 2>&1
	rc=$?
	echo "VB-XAPIC tracking=$1 rc=$rc $(grep -o 'sent [0-9]* IPIs' /tmp/x.log | tail -n 1)"
	if [ $rc -eq 0 ]; then
		[ $1 = Y ] && on=$((on + 1)) || off=$((off + 1))
	else
		assertion /tmp/x.log
	fi
}
while [ $i -lt $n ]; do
	if [ $((i % 2)) -eq 0 ]; then run Y; run N; else run N; run Y; fi
	i=$((i + 1))
done
echo Y >$KVM_PARAMS/ipi_tracking_enabled
info "xapic_ipi_test: passed $on of $n with tracking, $off of $n without"

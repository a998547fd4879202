#!/bin/sh
# memsnap.sh: memory snapshots of a Linux KVM host for memreport (capture format 1, see
# docs/FORMAT.md in the memreport source tree).
#
# POSIX sh: runs under dash, bash and busybox sh. Needs only date, sleep, du, gzip, tar, tr and
# uname (GNU coreutils or busybox); getconf and timeout are used when present. The per-sample loop
# uses shell builtins only (read loops, globs, arithmetic) plus one `sleep`: a sample costs one
# fork; reading a new qemu process's command line costs two, once per process.
#
#   sh memsnap.sh --output /var/tmp/memsnap --interval 10          # until Ctrl-C / SIGTERM
#   nohup sh memsnap.sh --output /var/tmp/memsnap --duration 604800 --bundle &
#
# Every row is one printf to a file opened with O_APPEND (>>), so a collector killed at any
# instant leaves every complete row readable.

VERSION=1.3.0
# C locale: byte-order globs (column order equal to memsnap.py), plain date and tar output
LC_ALL=C
export LC_ALL
FORMAT=1

usage() {
	cat <<EOF
usage: memsnap.sh [options]

Samples /proc/meminfo, /proc/vmstat, KSM, PSI, swaps and the qemu processes of this host into
tab-separated day files (capture format $FORMAT) for memreport.

options:
  --output DIR            where to write (default: ./memsnap-<hostname>)
  --interval SECONDS      between samples, fractions allowed (default 10)
  --duration SECONDS      stop after this long (default: until SIGINT/SIGTERM)
  --max-size MB           bound on the output directory (default 1024)
  --on-full rotate|stop   when over --max-size: delete the oldest compressed day, or stop
                          (default rotate)
  --virsh-interval SECONDS  between virsh queries (default 60)
  --virsh CMD             virsh command (default virsh; with --root only when given)
  --root DIR              read /proc and /sys under DIR (default /), for tests
  --bundle                when done, pack DIR into memsnap-<host>-<time>.tar.gz beside it
  --version               print the version
  --help                  this help
EOF
}

die() {
	printf 'memsnap.sh: %s\n' "$1" >&2
	exit 2
}

T=$(printf '\t')
NL='
'

# to_ms DECIMAL: sets ms to DECIMAL*1000 (integer arithmetic, up to 3 decimals kept); fails when
# DECIMAL is not a plain non-negative decimal number.
to_ms() {
	case $1 in '' | . | *[!0-9.]* | *.*.*) return 1 ;; esac
	_w=${1%%.*}
	_f=
	case $1 in *.*) _f=${1#*.} ;; esac
	_f=${_f}000
	_f=${_f%"${_f#???}"}
	# a leading 0 means octal in shell arithmetic
	while :; do case $_w in 0?*) _w=${_w#0} ;; *) break ;; esac; done
	ms=$((${_w:-0} * 1000 + 1$_f - 1000))
}

# fmt_ms MS: sets fmt to MS as seconds with 3 decimals
fmt_ms() {
	_r=$(($1 % 1000))
	case $_r in ?) _r=00$_r ;; ??) _r=0$_r ;; esac
	fmt=$(($1 / 1000)).$_r
}

# ---- options -------------------------------------------------------------------------------
interval=10 duration= output= max_size=1024 on_full=rotate virsh_interval=60 root=/
virsh_cmd= bundle=0 start_epoch=
while [ $# -gt 0 ]; do
	opt=$1
	shift
	case $opt in
	--help | -h) usage; exit 0 ;;
	--version) echo "memsnap.sh $VERSION (capture format $FORMAT)"; exit 0 ;;
	--bundle) bundle=1; continue ;;
	--*=*) val=${opt#*=}; opt=${opt%%=*} ;;
	--interval | --duration | --output | --max-size | --on-full | --virsh-interval | --root | \
		--virsh | --start-epoch)
		[ $# -gt 0 ] || die "$opt needs a value"
		val=$1
		shift
		;;
	*) die "unknown option: $opt (see --help)" ;;
	esac
	case $opt in
	--interval) interval=$val ;;
	--duration) duration=$val ;;
	--output) output=$val ;;
	--max-size) max_size=$val ;;
	--on-full) on_full=$val ;;
	--virsh-interval) virsh_interval=$val ;;
	--root) root=$val ;;
	--virsh) virsh_cmd=$val ;;
	# hidden, for tests: pretend the capture started at this epoch (day rotation without waiting
	# for midnight)
	--start-epoch) start_epoch=$val ;;
	*) die "unknown option: $opt (see --help)" ;;
	esac
done

to_ms "$interval" && [ "$ms" -gt 0 ] || die "--interval must be a number of seconds > 0"
interval_ms=$ms
dur_ms=
if [ -n "$duration" ]; then
	to_ms "$duration" || die "--duration must be a number of seconds"
	dur_ms=$ms
fi
# MB with up to 3 decimals → kB
to_ms "$max_size" && [ "$ms" -gt 0 ] || die "--max-size must be a number of MB > 0"
max_kb=$((ms * 1024 / 1000))
case $on_full in rotate | stop) ;; *) die "--on-full must be rotate or stop" ;; esac
to_ms "$virsh_interval" && [ "$ms" -gt 0 ] || die "--virsh-interval must be a number of seconds > 0"
virsh_ms=$ms

# R prefixes every /proc and /sys path ('' for the live root)
R=${root%/}
[ -z "$R" ] || [ -d "$R" ] || die "--root $root: not a directory"

# ---- clock -----------------------------------------------------------------------------------
# One timestamp per sample without a fork: read the wall clock once (date +%s.%N on GNU; busybox
# date prints %N literally, then whole seconds), then ts = start + (uptime now - uptime at start)
# from /proc/uptime (centiseconds, a builtin read). With a precise date the base is re-read every
# hour so NTP slewing cannot pile up; with whole seconds it stays (a re-read would jitter by up to
# 1 s, more than the drift of a week at typical clock error). The live /proc/uptime is used even
# with --root: time is the running host's.
read_uptime() {
	read -r _u _ </proc/uptime
	to_ms "$_u"
	up_ms=$ms
}
precise=0
sync_clock() {
	_t=$(date +%s.%N 2>/dev/null)
	case $_t in *[!0-9.]* | '' | *.) _t=$(date +%s); precise=0 ;; *) precise=1 ;; esac
	read_uptime
	to_ms "$_t" || die "cannot read the clock (date +%s gave '$_t')"
	epoch0=$ms
	up0=$up_ms
}
if [ -n "$start_epoch" ]; then
	to_ms "$start_epoch" || die "--start-epoch must be epoch seconds"
	epoch0=$ms
	read_uptime
	up0=$up_ms
else
	sync_clock
fi
# now: sets now_ms and ts (the string written in rows)
now() {
	read_uptime
	if [ $precise = 1 ] && [ $((up_ms - up0)) -ge 3600000 ]; then sync_clock; read_uptime; fi
	now_ms=$((epoch0 + up_ms - up0))
	fmt_ms "$now_ms"
	ts=$fmt
}

# ymd_of DAYS: sets ymd to YYYYMMDD of DAYS since 1970-01-01 (H. Hinnant's civil_from_days)
ymd_of() {
	_z=$(($1 + 719468))
	_era=$((_z / 146097))
	_doe=$((_z - _era * 146097))
	_yoe=$(((_doe - _doe / 1460 + _doe / 36524 - _doe / 146096) / 365))
	_y=$((_yoe + _era * 400))
	_doy=$((_doe - (365 * _yoe + _yoe / 4 - _yoe / 100)))
	_mp=$(((5 * _doy + 2) / 153))
	_d=$((_doy - (153 * _mp + 2) / 5 + 1))
	_m=$((_mp < 10 ? _mp + 3 : _mp - 9))
	[ $_m -le 2 ] && _y=$((_y + 1))
	[ $_m -lt 10 ] && _m=0$_m
	[ $_d -lt 10 ] && _d=0$_d
	ymd=$_y$_m$_d
}

# ---- output ------------------------------------------------------------------------------------
hostname=
read -r hostname 2>/dev/null <"$R/proc/sys/kernel/hostname"
[ -n "$hostname" ] || hostname=$(uname -n)
[ -n "$output" ] || output=./memsnap-$hostname
mkdir -p "$output" || die "cannot create --output $output"
out=$(cd "$output" && pwd) || die "cannot enter --output $output"
LOG=$out/collector.log
LINE_TMP=$out/.line.tmp
uid=$(id -u 2>/dev/null)

# a capture directory holds one host: refuse to mix
if [ -r "$out/facts.txt" ]; then
	while IFS='=' read -r _k _v; do
		if [ "$_k" = hostname ] && [ "$_v" != "$hostname" ]; then
			die "$out/facts.txt is a capture of host '$_v', not '$hostname': use another --output"
		fi
	done <"$out/facts.txt"
fi

log() { # LEVEL MESSAGE (its own clock reading: the sample's ts stays as it is)
	read_uptime
	fmt_ms $((epoch0 + up_ms - up0))
	printf '%s\t%s\t%s\n' "$fmt" "$1" "$2" >>"$LOG"
}
logged='|'
log_once() { # KEY LEVEL MESSAGE
	case $logged in *"|$1|"*) return 0 ;; esac
	logged="$logged$1|"
	log "$2" "$3"
}
why() { # PATH: sets reason, why a path could not be read
	if [ -e "$1" ]; then reason='permission denied'; else reason='not present'; fi
	[ "$uid" = 0 ] || [ "$reason" != 'permission denied' ] || reason="$reason (not root)"
}

# put FILE LINE: append LINE and its newline to FILE in one write() (>> opens with O_APPEND).
# The printf builtins of dash, busybox sh and bash write up to 4 KiB in one write(), longer
# strings in pieces (bash and busybox split at their stdio buffer); longer lines (a vmstat header
# on a recent kernel) go through a file and cat, which copies up to 64 KiB in one write().
put() {
	if [ ${#2} -lt 4000 ]; then
		printf '%s' "$2$NL" >>"$1"
	else
		printf '%s' "$2$NL" >"$LINE_TMP" && cat "$LINE_TMP" >>"$1"
	fi
}

# emit STREAM KEYS ROW: append ROW to today's file of STREAM, after a header when the file is new
# to this run or the keys changed
emit() {
	eval "_h=\${hdr_$1-}"
	if [ "$_h" != "$2" ]; then
		put "$out/$1.$ymd.tsv" "#ts$T$2"
		eval "hdr_$1=\$2"
	fi
	put "$out/$1.$ymd.tsv" "$3"
}
STREAMS='clock meminfo vmstat ksm psi swaps vms vmdefs virsh domxml hugepages numa'
reset_headers() {
	for _s in $STREAMS; do eval "hdr_$_s="; done
}

# compress_old: gzip every day file older than today (tmp + rename: a cut-short compression leaves
# a .tmp that readers ignore, and the .tsv stays complete). A .gz already there (clock set back)
# gets the new data appended as a second gzip member.
compress_old() {
	for _f in "$out"/*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].tsv; do
		[ -f "$_f" ] || continue
		_d=${_f%.tsv}
		_d=${_d##*.}
		[ "$_d" -lt "$ymd" ] || continue
		if { if [ -f "$_f.gz" ]; then cat "$_f.gz" && gzip -c "$_f"; else gzip -c "$_f"; fi; } \
			>"$_f.gz.tmp" && mv -f "$_f.gz.tmp" "$_f.gz" && rm -f "$_f"; then
			log info "compressed ${_f##*/}"
		else
			rm -f "$_f.gz.tmp"
			log_once "gzip:$_f" warn "${_f##*/}: gzip failed: left uncompressed"
		fi
	done
}

# check_size: keep the output directory under --max-size (du -sk: blocks in use)
check_size() {
	while :; do
		_kb=$(du -sk "$out" 2>/dev/null)
		_kb=${_kb%%[!0-9]*}
		[ "${_kb:-0}" -gt "$max_kb" ] || return 0
		if [ "$on_full" = stop ]; then
			log warn "output $out uses $_kb kB, over --max-size $max_size MB: stopping (--on-full stop)"
			stop=1
			return 0
		fi
		_old=
		for _f in "$out"/*.tsv.gz; do
			[ -f "$_f" ] || continue
			_d=${_f%.tsv.gz}
			_d=${_d##*.}
			case $_d in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]) ;; *) continue ;; esac
			if [ -z "$_old" ] || [ "$_d" -lt "$_old" ]; then _old=$_d; fi
		done
		if [ -z "$_old" ]; then
			log error "output $out uses $_kb kB, over --max-size $max_size MB, and no compressed day is left to delete: stopping"
			stop=1
			return 0
		fi
		rm -f "$out"/*."$_old".tsv.gz
		log warn "output $out used $_kb kB, over --max-size $max_size MB: deleted day $_old (--on-full rotate)"
	done
}

# ---- sources -----------------------------------------------------------------------------------
sample_clock() {
	_b=-
	read -r _b 2>/dev/null <"$R/proc/sys/kernel/random/boot_id" || _b=-
	_up=-
	read -r _up _ 2>/dev/null <"$R/proc/uptime" || _up=-
	emit clock "boot_id${T}uptime" "$ts$T${_b:--}$T${_up:--}"
}

# /proc/meminfo: `Key:   value kB` (split on the first ':'; a value may follow with no space)
sample_meminfo() {
	_keys= _row=$ts
	while IFS=": $T" read -r _k _v _; do
		_keys=$_keys$T$_k
		_row=$_row$T${_v:--}
	done <"$R/proc/meminfo"
	[ -n "$_keys" ] && emit meminfo "${_keys#"$T"}" "$_row"
}

sample_vmstat() {
	_keys= _row=$ts
	while read -r _k _v; do
		_keys=$_keys$T$_k
		_row=$_row$T${_v:--}
	done <"$R/proc/vmstat"
	[ -n "$_keys" ] && emit vmstat "${_keys#"$T"}" "$_row"
}

KSM=$R/sys/kernel/mm/ksm
ksm_text=' '   # KSM files that hold text, not a number (they go to facts.txt)
find_ksmd() {
	ksmd=
	for _p in "$R"/proc/[0-9]*; do
		_c=
		read -r _c 2>/dev/null <"$_p/comm" || continue
		if [ "$_c" = ksmd ]; then ksmd=${_p##*/}; return 0; fi
	done
	return 1
}
ksmd_retry=0
sample_ksm() {
	_keys= _row=$ts
	for _f in "$KSM"/*; do
		[ -f "$_f" ] || continue
		_n=${_f##*/}
		case $ksm_text in *" $_n "*) continue ;; esac
		_v=
		if ! read -r _v 2>/dev/null <"$_f" && [ -z "$_v" ]; then
			why "$_f"
			log_once "ksm:$_n" warn "$_f: $reason: written as -"
			_v=-
		fi
		case $_v in
		- | [0-9]* | -[0-9]*) case ${_v#-} in *[!0-9]*) _v=text ;; esac ;;
		*) _v=text ;;
		esac
		if [ "$_v" = text ]; then
			ksm_text="$ksm_text$_n "
			log_once "ksm:$_n" info "$_f: not a number: not in the ksm stream"
			continue
		fi
		_keys=$_keys$T$_n
		_row=$_row$T$_v
	done
	# ksmd_ticks = utime + stime: fields 14 and 15 of /proc/<pid>/stat; field 2 (comm, in
	# parentheses) may hold spaces, so split after its closing ') '
	_kt=-
	if [ -z "$ksmd" ] && [ $ksmd_retry -le 0 ]; then
		# not found: look again about once a minute, not every sample
		find_ksmd || { ksmd_retry=$((60000 / interval_ms)); log_once ksmd warn "ksmd: no process with comm ksmd under $R/proc: ksmd_ticks written as -"; }
	fi
	ksmd_retry=$((ksmd_retry - 1))
	if [ -n "$ksmd" ]; then
		_st=
		read -r _st 2>/dev/null <"$R/proc/$ksmd/stat"
		case $_st in
		*'(ksmd) '*)
			set -- ${_st##*") "}
			_kt=$((${12} + ${13}))
			;;
		*) ksmd= ;; # gone (or pid reused): find it again next sample
		esac
	fi
	emit ksm "${_keys#"$T"}${T}ksmd_ticks" "$_row$T$_kt"
}

PSI=$R/proc/pressure/memory
# PSI memory, kernel >= 4.20: `some avg10=0.00 avg60=0.00 avg300=0.00 total=0`, then `full ...`
sample_psi() {
	_some="-$T-$T-$T-" _full="-$T-$T-$T-"
	while read -r _kind _a _b _c _t; do
		_vals=${_a#avg10=}$T${_b#avg60=}$T${_c#avg300=}$T${_t#total=}
		case $_kind in some) _some=$_vals ;; full) _full=$_vals ;; esac
	done 2>/dev/null <"$PSI"
	emit psi "some_avg10${T}some_avg60${T}some_avg300${T}some_total${T}full_avg10${T}full_avg60${T}full_avg300${T}full_total" \
		"$ts$T$_some$T$_full"
}

sample_swaps() {
	while read -r _fn _ty _sz _us _pr _; do
		case $_fn in Filename | '') continue ;; esac
		emit swaps "filename${T}type${T}size_kb${T}used_kb${T}priority" \
			"$ts$T$_fn$T${_ty:--}$T${_sz:--}$T${_us:--}$T${_pr:--}"
	done 2>/dev/null <"$R/proc/swaps"
}

# hugepage pools (kernel docs, admin-guide/mm/hugetlbpage.rst): the host's, then each NUMA node's
HP=$R/sys/kernel/mm/hugepages
NODES=$R/sys/devices/system/node
# hugepage_rows NODE DIR: one row per DIR/hugepages-<size>kB, counts of pages as the kernel gives them
hugepage_rows() {
	for _d in "$2"/hugepages-*kB; do
		[ -d "$_d" ] || continue
		_sz=${_d##*/hugepages-}
		_row=$ts$T$1$T${_sz%kB}
		for _k in nr_hugepages free_hugepages resv_hugepages surplus_hugepages; do
			_v=
			read -r _v 2>/dev/null <"$_d/$_k" || _v=-
			_row=$_row$T${_v:--}
		done
		emit hugepages "node${T}size_kb${T}nr_hugepages${T}free_hugepages${T}resv_hugepages${T}surplus_hugepages" "$_row"
	done
}
sample_hugepages() {
	hugepage_rows - "$HP"
	for _n in $nodes; do hugepage_rows "$_n" "$NODES/node$_n/hugepages"; done
}
# per NUMA node meminfo: `Node 0 MemTotal:   6514424 kB`, one row per node
sample_numa() {
	for _n in $nodes; do
		_keys=node _row=$ts$T$_n
		while IFS=": $T" read -r _w _nn _k _v _; do
			[ "$_w" = Node ] || continue
			_keys=$_keys$T$_k
			_row=$_row$T${_v:--}
		done 2>/dev/null <"$NODES/node$_n/meminfo"
		[ "$_keys" != node ] && emit numa "$_keys" "$_row"
	done
}
# esc_spaces VALUE: sets _esc to VALUE with each space written \040 (vmdefs' mem_backend field)
esc_spaces() {
	_esc=$1
	while :; do
		case $_esc in
		*" "*) _esc=${_esc%%" "*}'\040'${_esc#*" "} ;;
		*) break ;;
		esac
	done
}

# qemu processes: comm qemu-system-* (truncated to 15 characters by the kernel), qemu-kvm or kvm.
# Found by a scan of /proc (builtins only) every VM_SCAN_MS; the command line is read once per
# new pid.
VM_SCAN_MS=30000
vm_pids=' '
not_vm=' '
next_scan=0
# qemu_name ARG: sets _name from a -name argument: `guest=NAME,debug-threads=on`, `NAME,process=x`
# (',,' is an escaped comma)
qemu_name() {
	_s=$1 _part= _name=
	while :; do
		case $_s in
		,,*) _part=$_part, ; _s=${_s#,,} ;;
		,* | '')
			case $_part in
			guest=*) _name=${_part#guest=} ;;
			*=*) ;;
			*) [ -n "$_name" ] || _name=$_part ;;
			esac
			_part=
			[ -n "$_s" ] || break
			_s=${_s#,}
			;;
		*)
			_c=${_s%"${_s#?}"}
			_part=$_part$_c
			_s=${_s#?}
			;;
		esac
	done
}
# start_time PID: sets _start to field 22 of /proc/PID/stat (start time, clock ticks after boot):
# with the pid, the identity of a process, so that a reused pid is not taken for the VM
start_time() {
	_start= _st=
	read -r _st 2>/dev/null <"$R/proc/$1/stat" || return 0
	case $_st in *") "*) ;; *) return 0 ;; esac
	set -- ${_st##*") "}
	[ $# -ge 20 ] && _start=${20}
	return 0
}
new_vm() { # PID
	_args=$(tr '\0' '\n' 2>/dev/null <"$R/proc/$1/cmdline")
	if [ -z "$_args" ]; then
		# kernel threads (kvm-* workers) have no command line
		[ -r "$R/proc/$1/cmdline" ] || { why "$R/proc/$1/cmdline"; log_once "cmdline:$1" warn "$R/proc/$1/cmdline: $reason: VM definition not captured"; }
		not_vm="$not_vm$1 "
		return
	fi
	_cmd= _prev= _vname=- _uuid=- _mem=- _mb=
	while IFS= read -r _a; do
		if [ -z "$_cmd" ]; then _cmd=${_a##*/}; _cmd=${_cmd:--}; fi
		case $_prev in
		-name | --name) qemu_name "$_a"; _vname=${_name:--} ;;
		-uuid | --uuid) _uuid=${_a:--} ;;
		-m | --m) _mem=${_a:--} ;;
		-mem-path | --mem-path) esc_spaces "$_a"; _mb="$_mb $_prev $_esc" ;;
		-object | --object) case $_a in *memory-backend*) esc_spaces "$_a"; _mb="$_mb $_prev $_esc" ;; esac ;;
		esac
		_prev=$_a
	done <<EOF
$_args
EOF
	vm_pids="$vm_pids$1 "
	start_time "$1"
	eval "vm_st_$1=\$_start"
	_mb=${_mb# }
	emit vmdefs "pid${T}name${T}uuid${T}mem_arg${T}cmd${T}mem_backend" "$ts$T$1$T$_vname$T$_uuid$T$_mem$T$_cmd$T${_mb:--}"
}
scan_vms() {
	for _p in "$R"/proc/[0-9]*; do
		_pid=${_p##*/}
		case "$vm_pids$not_vm" in *" $_pid "*) continue ;; esac
		_c=
		read -r _c 2>/dev/null <"$_p/comm" || continue
		case $_c in qemu-system-* | qemu-kvm | kvm) new_vm "$_pid" ;; esac
	done
}
sample_vms() {
	if [ "$now_ms" -ge "$next_scan" ]; then
		# forget pids that are gone, so a reused pid is looked at again
		_keep=' '
		for _pid in $not_vm; do [ -e "$R/proc/$_pid" ] && _keep="$_keep$_pid "; done
		not_vm=$_keep
		scan_vms
		next_scan=$((now_ms + VM_SCAN_MS))
	fi
	_keep=' '
	for _pid in $vm_pids; do
		[ -e "$R/proc/$_pid" ] || continue
		start_time "$_pid"
		eval "_was=\${vm_st_$_pid-}"
		if [ -n "$_was" ] && [ -n "$_start" ] && [ "$_start" != "$_was" ]; then
			# the VM's process ended and another process has its pid: not this VM's numbers
			log info "pid $_pid: a new process (start time $_was, now $_start): no longer the VM first seen with this pid; looking again"
			eval "vm_st_$_pid="
			next_scan=0
			continue
		fi
		_keep="$_keep$_pid "
		_rss=- _swp=- _htlb=-
		if ! {
			while read -r _k _v _; do
				# HugetlbPages: kernel >= 4.4; hugetlb pages are not in VmRSS
				case $_k in VmRSS:) _rss=$_v ;; VmSwap:) _swp=$_v ;; HugetlbPages:) _htlb=$_v ;; esac
			done <"$R/proc/$_pid/status"
		} 2>/dev/null; then
			why "$R/proc/$_pid/status"
			log_once "status:$_pid" warn "$R/proc/$_pid/status: $reason: VM rss not captured"
		fi
		# ksm_stat (kernel >= 6.1): what KSM merged in this VM. Merged pages still count in VmRSS,
		# so this is the only per-VM view of KSM's saving.
		_kmp=- _kpr=-
		if [ -e "$R/proc/$_pid/ksm_stat" ] && ! {
			while read -r _k _v _; do
				case $_k in ksm_merging_pages) _kmp=$_v ;; ksm_process_profit) _kpr=$_v ;; esac
			done <"$R/proc/$_pid/ksm_stat"
		} 2>/dev/null; then
			why "$R/proc/$_pid/ksm_stat"
			log_once "ksm_stat:$_pid" warn "$R/proc/$_pid/ksm_stat: $reason: VM KSM merging not captured"
		fi
		emit vms "pid${T}rss_kb${T}swap_kb${T}ksm_merging_pages${T}ksm_profit${T}hugetlb_kb" "$ts$T$_pid$T$_rss$T$_swp$T${_kmp:--}$T${_kpr:--}$T$_htlb"
	done
	vm_pids=$_keep
}

# virsh: `virsh -r list --name`, then per domain `dominfo`, `dommemstat` and `memtune`, every
# --virsh-interval; `dumpxml` once per domain start (a new Id)
virsh=
tmo=
next_virsh=0
VIRSH_KEYS="domain${T}key${T}value"
DOMXML_KEYS="domain${T}id${T}xml"
dom_seen=$NL  # lines "<domain><TAB><Id>" whose XML is recorded
sample_virsh() {
	[ "$now_ms" -ge "$next_virsh" ] || return 0
	next_virsh=$((now_ms + virsh_ms))
	if ! _list=$($tmo $virsh -r list --name 2>&1); then
		log_once virsh-fail warn "virsh: '$virsh -r list --name' failed: ${_list%%"$NL"*}: virsh stream not captured (tried again every $virsh_interval s)"
		return 0
	fi
	while IFS= read -r _dom; do
		[ -n "$_dom" ] || continue
		_id=
		if _info=$($tmo $virsh -r dominfo "$_dom" 2>/dev/null); then
			while IFS=: read -r _k _v; do
				_v=${_v#"${_v%%[! ]*}"}
				case $_k in
				Id) _id=$_v ;;
				'Max memory') emit virsh "$VIRSH_KEYS" "$ts$T$_dom${T}max_memory_kb$T${_v%% *}" ;;
				'Used memory') emit virsh "$VIRSH_KEYS" "$ts$T$_dom${T}used_memory_kb$T${_v%% *}" ;;
				State) emit virsh "$VIRSH_KEYS" "$ts$T$_dom${T}state$T$_v" ;;
				esac
			done <<EOF
$_info
EOF
		fi
		if _stat=$($tmo $virsh -r dommemstat "$_dom" 2>/dev/null); then
			while read -r _k _v _; do
				[ -n "$_k" ] && [ -n "$_v" ] && emit virsh "$VIRSH_KEYS" "$ts$T$_dom$T$_k$T$_v"
			done <<EOF
$_stat
EOF
		fi
		if _tune=$($tmo $virsh -r memtune "$_dom" 2>/dev/null); then
			while IFS=: read -r _k _v; do
				_k=${_k%"${_k##*[! ]}"} _v=${_v#"${_v%%[! ]*}"}
				[ "$_v" = unlimited ] && _v=-  # no limit
				case $_k in hard_limit | soft_limit | swap_hard_limit)
					emit virsh "$VIRSH_KEYS" "$ts$T$_dom$T${_k}_kb$T$_v" ;;
				esac
			done <<EOF
$_tune
EOF
		fi
		if [ -n "$_id" ]; then
			case $dom_seen in
			*"$NL$_dom$T$_id$NL"*) ;;
			*)
				# one line: tabs, newlines and CRs made spaces (a failed dumpxml leaves it empty)
				_xml=$($tmo $virsh -r dumpxml "$_dom" 2>/dev/null | tr '\t\n\r' '   ')
				_xml=${_xml%"${_xml##*[! ]}"}
				case $_xml in
				*"<domain"*)
					emit domxml "$DOMXML_KEYS" "$ts$T$_dom$T$_id$T$_xml"
					dom_seen="$dom_seen$_dom$T$_id$NL" ;;
				*) log_once "dumpxml:$_dom" warn "virsh: dumpxml $_dom failed: its XML not captured" ;;
				esac ;;
			esac
		fi
	done <<EOF
$_list
EOF
}

# ---- start -------------------------------------------------------------------------------------
now
started=$ts
start_ms=$now_ms
ymd=
reset_headers
log info "memsnap.sh $VERSION started: interval $interval s, output $out, root ${root}"

# sources that are missing stay missing for the run: say so once, and skip them
for _f in meminfo vmstat; do
	[ -r "$R/proc/$_f" ] || { why "$R/proc/$_f"; log warn "$R/proc/$_f: $reason: $_f not captured"; }
done
have_ksm=0
if [ -d "$KSM" ]; then have_ksm=1; else log info "$KSM: not present (kernel without CONFIG_KSM): ksm not captured"; fi
have_psi=0
if [ -r "$PSI" ]; then
	_l=
	read -r _l 2>/dev/null <"$PSI"
	# RHEL 8 kernels have the file but fail the read unless booted with psi=1
	case $_l in some*) have_psi=1 ;; *) log info "$PSI: not readable (PSI disabled: boot with psi=1): psi not captured" ;; esac
else
	why "$PSI"
	[ "$reason" = 'not present' ] && reason='not present (kernel < 4.20)'
	log info "$PSI: $reason: psi not captured"
fi
have_hugepages=0
if [ -d "$HP" ]; then have_hugepages=1; else log info "$HP: not present (kernel without CONFIG_HUGETLBFS): hugepages not captured"; fi
nodes=
for _d in "$NODES"/node[0-9]*; do
	[ -d "$_d" ] && nodes="$nodes ${_d##*/node}"
done
[ -n "$nodes" ] || log info "$NODES: no node directories: numa not captured"
have_swaps=0
if [ -r "$R/proc/swaps" ]; then have_swaps=1; else why "$R/proc/swaps"; log info "$R/proc/swaps: $reason: swaps not captured"; fi

if [ -n "$virsh_cmd" ]; then
	virsh=$virsh_cmd
elif [ -n "$R" ]; then
	log info "virsh: not run with --root (give --virsh CMD): virsh not captured"
else
	virsh=virsh
fi
if [ -n "$virsh" ] && ! command -v "${virsh%% *}" >/dev/null 2>&1; then
	log info "virsh: '${virsh%% *}' not found: virsh not captured"
	virsh=
fi
# a hung libvirtd must not stall sampling
command -v timeout >/dev/null 2>&1 && tmo='timeout 30'

# facts.txt
page_size=$(getconf PAGESIZE 2>/dev/null)
if [ -z "$page_size" ]; then
	# no getconf (busybox systems): the kernel page size of the shell's own mappings
	while read -r _k _v _; do
		case $_k in KernelPageSize:) page_size=$((_v * 1024)); break ;; esac
	done 2>/dev/null </proc/self/smaps
fi
clock_ticks=$(getconf CLK_TCK 2>/dev/null)
# USER_HZ is 100 on every mainstream architecture
[ -n "$clock_ticks" ] || clock_ticks=100
cpus=
if read -r _on 2>/dev/null <"$R/sys/devices/system/cpu/online"; then
	# `0-3,6,8-9`
	cpus=0
	_save=$IFS
	IFS=,
	for _r in $_on; do
		case $_r in *-*) cpus=$((cpus + ${_r#*-} - ${_r%-*} + 1)) ;; ?*) cpus=$((cpus + 1)) ;; esac
	done
	IFS=$_save
fi
[ -n "$cpus" ] || cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null)
kernel=
read -r kernel 2>/dev/null <"$R/proc/sys/kernel/osrelease" || kernel=$(uname -r)
boot_id=-
read -r boot_id 2>/dev/null <"$R/proc/sys/kernel/random/boot_id"
# tells this host apart from others of the same name (every `localhost`); dbus keeps a copy
machine_id=
for _f in "$R/etc/machine-id" "$R/var/lib/dbus/machine-id"; do
	read -r machine_id 2>/dev/null <"$_f"
	[ -z "$machine_id" ] || break
done
[ -n "$machine_id" ] || log info "$R/etc/machine-id: not present: machine_id not recorded"
{
	echo "format=$FORMAT"
	echo "collector=memsnap.sh"
	echo "collector_version=$VERSION"
	echo "hostname=$hostname"
	echo "kernel=${kernel:--}"
	echo "page_size=${page_size:--}"
	echo "clock_ticks=$clock_ticks"
	echo "cpus=${cpus:--}"
	echo "interval=$interval"
	echo "started=$started"
	echo "boot_id=${boot_id:--}"
	echo "machine_id=${machine_id:--}"
	for _k in swappiness overcommit_memory overcommit_ratio; do
		# not `read`: it reads a byte at a time, and the integer files of /proc/sys give
		# nothing after the first byte (proc_dointvec ignores reads at an offset)
		_v=$(cat "$R/proc/sys/vm/$_k" 2>/dev/null)
		echo "vm.$_k=${_v:--}"
	done
	if [ $have_ksm = 1 ]; then
		for _f in "$KSM"/*; do
			_v=
			read -r _v 2>/dev/null <"$_f" || [ -n "$_v" ] || continue
			case $_v in - | *[!0-9-]* | ?*-*) ksm_text="$ksm_text${_f##*/} "; echo "ksm_${_f##*/}=$_v" ;; esac
		done
	fi
} >"$out/facts.txt.tmp" && mv -f "$out/facts.txt.tmp" "$out/facts.txt"

printf 'memsnap.sh: sampling every %s s into %s (stop with Ctrl-C or SIGTERM)\n' "$interval" "$out" >&2

# ---- sample loop ---------------------------------------------------------------------------------
stop=0
trap 'stop=1' INT TERM HUP
n=0
# check the disk bound about once a minute (du forks), and at start and every rotation
size_every=$((60000 / interval_ms))
[ $size_every -ge 1 ] || size_every=1
size_count=0
next_ms=$start_ms
skipped=0
while :; do
	now
	_day=$((now_ms / 86400000))
	ymd_of "$_day"
	if [ "$ymd" != "${cur_ymd-}" ]; then
		cur_ymd=$ymd
		reset_headers
		compress_old
		size_count=0
	fi
	sample_clock
	[ -r "$R/proc/meminfo" ] && sample_meminfo
	[ -r "$R/proc/vmstat" ] && sample_vmstat
	[ $have_ksm = 1 ] && sample_ksm
	[ $have_psi = 1 ] && sample_psi
	[ $have_swaps = 1 ] && sample_swaps
	[ $have_hugepages = 1 ] && sample_hugepages
	[ -n "$nodes" ] && sample_numa
	sample_vms
	[ -n "$virsh" ] && sample_virsh
	n=$((n + 1))
	if [ $size_count -le 0 ]; then
		check_size
		size_count=$size_every
	fi
	size_count=$((size_count - 1))
	[ $stop = 1 ] && break

	next_ms=$((next_ms + interval_ms))
	if [ -n "$dur_ms" ] && [ $((next_ms - start_ms)) -gt "$dur_ms" ]; then break; fi
	now
	if [ "$now_ms" -ge "$next_ms" ]; then
		# the sample took longer than the interval: skip the slots it overran
		[ $skipped -gt 0 ] || log warn "a sample took longer than --interval $interval s: slots skipped"
		_missed=$(((now_ms - next_ms) / interval_ms + 1))
		if [ -n "$dur_ms" ]; then
			# slots after --duration were never due
			_due=$(((dur_ms - (next_ms - start_ms)) / interval_ms + 1))
			[ $_missed -le $_due ] || _missed=$_due
		fi
		skipped=$((skipped + _missed))
		next_ms=$((next_ms + _missed * interval_ms))
		if [ -n "$dur_ms" ] && [ $((next_ms - start_ms)) -gt "$dur_ms" ]; then break; fi
	fi
	fmt_ms $((next_ms - now_ms))
	# sleep in the background: `wait` returns at once when a trapped signal arrives
	sleep "$fmt" &
	_spid=$!
	wait "$_spid"
	if [ $stop = 1 ]; then
		kill "$_spid" 2>/dev/null
		break
	fi
done
trap - INT TERM HUP
rm -f "$LINE_TMP"
[ $skipped = 0 ] || log warn "$skipped slots skipped in all (samples that took longer than --interval $interval s)"
log info "stopped after $n samples"

if [ $bundle = 1 ]; then
	# members under one top directory named like the bundle: a symlink to the output directory,
	# followed by tar -h (GNU and busybox tar)
	name=memsnap-$hostname-$(date -u +%Y%m%dT%H%M%SZ)
	parent=${out%/*}
	[ -n "$parent" ] || parent=/
	tmpd=$parent/.$name.tmp
	if mkdir "$tmpd" && ln -s "$out" "$tmpd/$name" &&
		tar czhf "$parent/$name.tar.gz.tmp" -C "$tmpd" "$name" &&
		mv -f "$parent/$name.tar.gz.tmp" "$parent/$name.tar.gz"; then
		log info "bundle written: $parent/$name.tar.gz"
		printf 'memsnap.sh: bundle %s\n' "$parent/$name.tar.gz" >&2
	else
		rm -f "$parent/$name.tar.gz.tmp"
		log error "bundle $parent/$name.tar.gz could not be written"
		rm -rf "$tmpd"
		exit 1
	fi
	rm -rf "$tmpd"
fi
exit 0

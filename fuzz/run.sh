#!/bin/bash
# Runs every fuzz target for a bounded time on the stable toolchain (`-s none`: libFuzzer's
# coverage instrumentation without a sanitizer), starting from the committed seeds, then
# replays the seeds once more. Any crash fails the run and leaves the input in
# fuzz/artifacts/<target>/ (add it to fuzz/seeds/ once fixed).
#   fuzz/run.sh [SECONDS_PER_TARGET]   (default 60; 0 = replay only)
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
# target:seed directory:longest input (a datagram; a request head; a whole table, capture or upload)
targets=(dhcpv4_parse:dhcpv4:1500 dhcpv4_roundtrip:dhcpv4:1500 dhcpv4_differential:dhcpv4:1500
  tftp_parse:tftp:1500 tftp_roundtrip:tftp:1500 tftp_transfer:tftp_transfer:1500 agent_inputs:agent_inputs:1500
  dns:dns:1500 http_head:http_head:20000 http_chunked:http_chunked:4096 http_range:http_range:256
  http_response:http_response:4096 upload_body:upload_body:65536 smbios:smbios:65536 pcap:pcap:65536
  dhcp_server:dhcp_server:4096)
cargo fuzz build -s none
mkdir -p logs
for entry in "${targets[@]}"; do
  IFS=: read -r t seeds max <<< "$entry"
  seeds=seeds/$seeds
  mkdir -p "corpus/$t"
  if [ "$secs" -gt 0 ]; then
    echo "fuzz: $t for $secs s"
    if ! cargo fuzz run -s none "$t" "corpus/$t" "$seeds" -- \
         -max_total_time="$secs" -max_len="$max" -print_final_stats=1 > "logs/$t.log" 2>&1; then
      tail -40 "logs/$t.log" >&2
      echo "fuzz: $t crashed; the input is in fuzz/artifacts/$t/" >&2
      exit 1
    fi
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "logs/$t.log" | sed 's/^/  /'
  fi
  echo "fuzz: $t replays the seeds"
  if ! cargo fuzz run -s none "$t" "$seeds" -- -runs=0 > "logs/$t.replay.log" 2>&1; then
    tail -40 "logs/$t.replay.log" >&2
    echo "fuzz: $t fails on a committed seed" >&2
    exit 1
  fi
done
echo "fuzz: ok"

#!/usr/bin/env bash
# Import benchmark: a village-office list of ROWS rows (default 100,000) through
# the real release binary, on the encrypted store with the standard key
# derivation. Prints rows/s (validation, duplicate checks and durable batches
# included) and the peak memory of the process. Figures go to BENCHMARKS.md.
#
#   bash agent/benches/import.sh               # a ;-separated CSV
#   FORMAT=xlsx bash agent/benches/import.sh   # the same rows as an .xlsx workbook (all cells text)
#   ROWS=20000 bash agent/benches/import.sh    # a quick run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rows=${ROWS:-100000}
format=${FORMAT:-csv}
# AGENT=target/dist-agent/lindung-agent measures the shipping build instead.
agent=${AGENT:-target/release/lindung-agent}
[ -n "${AGENT:-}" ] || cargo build --release --quiet -p lindung-agent
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Distinct people: a unique (birth date, serial) per row, four villages of
# Kecamatan Sangir, and names that are not alike, as in a real list.
awk -v n="$rows" 'BEGIN {
    print "NIK;Nama Lengkap;Jenis Kelamin;No HP;Kode Desa;RT;RW;Pekerjaan";
    letters = "abcdefghijklmnopqrstuvwxyz";
    for (i = 0; i < n; i++) {
        day = 1 + i % 28; month = 1 + int(i / 28) % 12; year = 50 + int(i / 336) % 50; serial = 1 + int(i / 16800);
        name = toupper(substr(letters, 1 + i % 26, 1)) substr(letters, 1 + int(i / 26) % 26, 1) substr(letters, 1 + int(i / 676) % 26, 1) "wati " \
               toupper(substr(letters, 1 + int(i / 17576) % 26, 1)) "oko";
        printf "131101%02d%02d%02d%04d;%s;P;08%010d;131101200%d;%d;%d;nelayan\n", day + 40, month, year, serial, name, i, 1 + i % 4, 1 + i % 12, 1 + i % 4;
    }
}' > "$work/desa.csv"
case "$format" in
    csv) file="$work/desa.csv" ;;
    xlsx)
        cargo build --release --quiet -p lindung-agent --example csv_to_xlsx
        file="$work/desa.xlsx"
        target/release/examples/csv_to_xlsx "$work/desa.csv" "$file"
        printf 'workbook: %s\n' "$(du -h "$file" | cut -f1)"
        ;;
    *) echo "FORMAT must be csv or xlsx" >&2; exit 2 ;;
esac

export LINDUNG_DATA_DIR="$work/data" LINDUNG_PASSPHRASE="benchmark-passphrase"
"$agent" init --officer "Bench Officer" > /dev/null
for run in first again; do
    # Exit code 1 means some rows were refused; the summary says which, so go on.
    /usr/bin/time -f "%e %M" -o "$work/time" \
        "$agent" import "$file" --payer apbd --consent signed_form --json > "$work/summary.json" || true
    grep -v '^Command exited' "$work/time" > "$work/time.clean" && mv "$work/time.clean" "$work/time"
    read -r seconds peak_kb < "$work/time"
    summary=$(tr -d '\n ' < "$work/summary.json")
    awk -v r="$rows" -v s="$seconds" -v k="$peak_kb" -v run="$run" -v f="$format" -v sum="$summary" 'BEGIN {
        printf "import %d rows, %s (%s run): %.2f s, %.0f rows/s, peak memory %.1f MB\n  %s\n", r, f, run, s, r / s, k / 1024, sum
    }'
done
printf 'store on disk: %s\n' "$(du -sh "$work/data" | cut -f1)"
"$agent" check | sed 's/^/check: /'

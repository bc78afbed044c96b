#!/usr/bin/env bash
# make count: CPU instructions of one ingest_webhook_text call (an FAQ question from a new customer,
# as in make bench) and of the whole life of such a message (its ingest, its share of a claim of
# 10 send jobs, its completion with the outbound log) beside one 1 KB jsonb insert, counted by
# valgrind's callgrind in a single-user postgres, after 1,000 such messages and an ANALYZE.
# Prints a table and COUNT lines (count_ingest_vs_insert, count_message_vs_insert). Unlike make bench's rates, the
# counts repeat exactly from run to run, so they show what a change costs or saves even on a
# busy machine. Installs the release build
# first (make test installs the debug build, which runs about a third more instructions).
# ALPHADOME_COUNT_PROFILE=<file> keeps ingest's callgrind profile for callgrind_annotate, and
# <file>.message the whole life's.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$("${PG_CONFIG:-pg_config}" --bindir)
N=${ALPHADOME_COUNT_CALLS:-200}
command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null
echo "count: release build of the extension"
scripts/install-extension.sh --release >/tmp/alphadome-count-install.log 2>&1 \
  || { cat /tmp/alphadome-count-install.log; exit 1; }
dir=$(mktemp -d /tmp/alphadome-count.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chown postgres "$dir"
as_postgres() { if [ "$(id -u)" = 0 ]; then sudo -u postgres "$@"; else "$@"; fi; }

as_postgres "$BIN/initdb" -D "$dir/data" -U postgres --locale=C.UTF-8 -A trust --no-sync >/dev/null
printf 'count:%s\n' "$(openssl rand -hex 32)" > "$dir/master.key"
chown postgres "$dir/master.key"; chmod 600 "$dir/master.key"
printf "alphadome.master_key_file = '%s'\nautovacuum = off\n" "$dir/master.key" >> "$dir/data/postgresql.conf"
as_postgres "$BIN/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -o "-p 54402 -k $dir -c listen_addresses=''" -w start >/dev/null
psql=(psql -h "$dir" -p 54402 -U postgres -q -v ON_ERROR_STOP=1)
"${psql[@]}" -c 'CREATE DATABASE count'
"${psql[@]}" -d count -c 'CREATE EXTENSION pg_alphadome CASCADE' 2>/dev/null
"${psql[@]}" -d count -v whatsapp_phone_number_id=106540352242922 -f sql/seed/kassangas.sql
"${psql[@]}" -d count -c "UPDATE alphadome.bot_control_settings SET max_messages_per_hour = 100000;
  CREATE TABLE bench_events (id bigserial PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz DEFAULT now())"

# One ingest statement: an FAQ question from customer $2, message id wamid.count.$1.$2, the body
# given as text, as the relay gives it (ingest_webhook_text).
ingest_statement() {
  printf '%s\n\n' "SELECT alphadome.ingest_webhook_text('{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"106540352242922\",\"phone_number_id\":\"106540352242922\"},\"contacts\":[{\"profile\":{\"name\":\"B\"},\"wa_id\":\"$2\"}],\"messages\":[{\"from\":\"$2\",\"id\":\"wamid.count.$1.$2\",\"timestamp\":\"1760000000\",\"type\":\"text\",\"text\":{\"body\":\"What are your opening hours?\"}}]}}]}]}');"
}
# The relay's send path for the jobs of ten messages, as two transactions: a claim of 10 (the
# token decrypted and audited), then their completions in one complete_jobs statement (as the
# relay commits those arriving together), logging their outbound messages. The second statement
# finds the claimed jobs by a scan of the ready jobs (ten), where the relay has their ids from
# the claim.
send_statements() {
  printf '%s\n\n' "SELECT count(*) FROM alphadome.claim_jobs('count', 10, 60);"
  printf '%s\n\n' "SELECT count(*) FROM (SELECT array_agg(o.id ORDER BY o.id) AS ids, array_agg(jsonb_build_object('wamid', 'wamid.out.' || o.id, 'status', 'sent') ORDER BY o.id) AS results FROM alphadome.outbox o WHERE o.status = 'running' AND o.locked_by = 'count') r, alphadome.complete_jobs(r.ids, r.results) c;"
}
pad=$(printf 'x%.0s' $(seq 1000))
for i in $(seq "$N"); do
  ingest_statement "$i" $((RANDOM * 32768 + RANDOM)) >> "$dir/ingest.sql"
  printf '%s\n\n' "INSERT INTO bench_events (payload) VALUES ('{\"pad\": \"$pad\"}');" >> "$dir/insert.sql"
done
# The whole life: ten ingests, then the claim and the completions of their ten replies.
for i in $(seq $((N / 10))); do
  for k in $(seq 10); do ingest_statement "life$i.$k" $((RANDOM * 32768 + RANDOM)); done
  send_statements
done > "$dir/message.sql"
# A shop that has served 1,000 customers, its tables analyzed as autovacuum keeps a live one's.
# On empty, never-analyzed tables a plan is chosen on a tie: the foreign-key check of each
# message came to read every conversation of the tenant, which made the count grow with the
# rows before it (142,000 instructions a message at 150 conversations).
# Their replies were sent, as a live shop's are: no backlog of queued jobs before the counts.
for i in $(seq 1000); do
  ingest_statement "warm$i" $((254700000000 + i))
  if [ $((i % 10)) = 0 ]; then send_statements; fi
done > "$dir/warm.sql"
"${psql[@]}" -d count -o /dev/null -f "$dir/warm.sql"
"${psql[@]}" -d count -c 'VACUUM ANALYZE'
as_postgres "$BIN/pg_ctl" -D "$dir/data" stop -m fast >/dev/null

# Instructions of a single-user postgres running the first k statements of a file (each one
# followed by a blank line), on a
# fresh copy of the prepared cluster (so no run sees another's rows).
count() {
  head -n $((2 * $2)) "$dir/$1.sql" > "$dir/run.sql"
  rm -rf "$dir/run-data"; cp -a "$dir/data" "$dir/run-data"
  as_postgres valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
    "$BIN/postgres" --single -D "$dir/run-data" -j count < "$dir/run.sql" > "$dir/run.log" 2>&1
  if grep -q ERROR "$dir/run.log"; then grep -m1 ERROR "$dir/run.log" >&2; exit 1; fi
  awk '/^(summary|totals):/ {print $2; exit}' "$dir/callgrind.out"
}
# All N statements minus the first N/2: start-up and first-call costs cancel out. For the
# message file, statements are counted in whole blocks of 12 (ten messages' life) and the
# figure is per message.
per_call() {
  local all half
  all=$(count "$1" "$N"); half=$(count "$1" $((N / 2)))
  echo $(( (all - half) / (N - N / 2) ))
}
per_message() {
  local blocks=$((N / 10)) all half
  all=$(count message $((12 * blocks))); half=$(count message $((12 * (blocks / 2))))
  echo $(( (all - half) / (10 * (blocks - blocks / 2)) ))
}
echo "count: $N statements of each under callgrind (a minute or two)"
insert=$(per_call insert)
ingest=$(per_call ingest)
if [ -n "${ALPHADOME_COUNT_PROFILE:-}" ]; then cp "$dir/callgrind.out" "$ALPHADOME_COUNT_PROFILE"; fi
message=$(per_message)
if [ -n "${ALPHADOME_COUNT_PROFILE:-}" ]; then cp "$dir/callgrind.out" "$ALPHADOME_COUNT_PROFILE.message"; fi
ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
printf '%-56s %12s %8s\n' "what" "instructions" "ratio"
printf '%-56s %12d %7.2fx\n' "insert 1 KB jsonb (one statement)" "$insert" 1
printf '%-56s %12d %7sx\n' "ingest_webhook_text (FAQ question, new customer)" "$ingest" "$(ratio "$ingest" "$insert")"
printf '%-56s %12d %7sx\n' "the message's whole life (ingest, claim share, completion)" "$message" "$(ratio "$message" "$insert")"
printf '%-56s %12d %7sx\n' "  of which the send path (claim share, completion, log)" "$((message - ingest))" "$(ratio $((message - ingest)) "$insert")"
echo "COUNT count_ingest_vs_insert $(ratio "$ingest" "$insert")"
echo "COUNT count_message_vs_insert $(ratio "$message" "$insert")"

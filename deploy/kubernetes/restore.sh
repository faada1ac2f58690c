#!/usr/bin/env bash
# Restore the store from a backup on the cluster (README: "Running on Docker or Kubernetes"):
#   deploy/kubernetes/restore.sh [-n NAMESPACE] [--dry-run] /var/lib/football/backups/predictions_YYYYmmdd_HHMMSS.dump
#   deploy/kubernetes/restore.sh [-n NAMESPACE] --resume      (resume the schedule after a failed restore)
# 1. suspends every CronJob of the pipeline (those already suspended stay so), 2. waits for running Jobs to end,
# 3. runs production/backup.py --restore FILE in a Job made from cronjob/backup (the backup job keeps a dump of
# the current store first), 4. resumes the CronJobs it suspended. A failed restore leaves them suspended (the store
# may be half-restored): look at the Job's log, then restore again or run --resume.
# --dry-run prints every command that would change the cluster instead of running it (the reads still run).
# Needs kubectl with access to the namespace; KUBECTL names another binary.
set -euo pipefail

KUBECTL="${KUBECTL:-kubectl}"
NAMESPACE=football
SELECTOR=app.kubernetes.io/name=football-pipeline
WAIT_RUNNING="${WAIT_RUNNING:-3600}"   # seconds to wait for running Jobs to end
WAIT_RESTORE="${WAIT_RESTORE:-7200}"   # seconds the restore may take (the backup job's deadline)
POLL_SECONDS="${POLL_SECONDS:-10}"     # between looks at the running Jobs
DRY_RUN=0
RESUME_ONLY=0
FILE=""

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        -n|--namespace) NAMESPACE="${2:?}"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --resume) RESUME_ONLY=1; shift ;;
        -h|--help) usage ;;
        -*) echo "restore.sh: unknown option $1" >&2; usage ;;
        *) [ -z "$FILE" ] || usage; FILE="$1"; shift ;;
    esac
done

k() { "$KUBECTL" -n "$NAMESPACE" "$@"; }
# a command that changes the cluster: printed on --dry-run, run otherwise
change() {
    if [ "$DRY_RUN" = 1 ]; then echo "+ $KUBECTL -n $NAMESPACE $*"; else k "$@"; fi
}
say() { echo "restore.sh: $*" >&2; }

cronjobs() { k get cronjobs -l "$SELECTOR" -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.suspend}{"\n"}{end}'; }

set_suspend() {  # NAME true|false
    change patch cronjob "$1" --type=merge -p "{\"spec\":{\"suspend\":$2}}"
}

if [ "$RESUME_ONLY" = 1 ]; then
    [ -z "$FILE" ] || usage
    while read -r name _; do
        [ -n "$name" ] && set_suspend "$name" false
    done < <(cronjobs)
    say "schedule resumed"
    exit 0
fi
[ -n "$FILE" ] || usage
case "$FILE" in
    /var/lib/football/*) ;;
    *) say "$FILE: give the backup's path in the pods (/var/lib/football/backups/...)"; exit 2 ;;
esac

suspended=()
while read -r name state; do
    [ -n "$name" ] || continue
    if [ "$state" = true ]; then
        say "cronjob/$name was suspended already: it stays suspended"
    else
        suspended+=("$name")
    fi
done < <(cronjobs)
if [ "${#suspended[@]}" -eq 0 ] && [ -z "$(cronjobs)" ]; then
    say "no CronJob labelled $SELECTOR in namespace $NAMESPACE"; exit 1
fi

resume() {
    for name in "${suspended[@]}"; do set_suspend "$name" false; done
    say "schedule resumed: ${suspended[*]:-nothing was suspended here}"
}
# until the restore Job exists, any exit (an error, Ctrl-C) resumes what this run suspended
trap resume EXIT
for name in "${suspended[@]}"; do set_suspend "$name" true; done

# Jobs still running (started before the suspension) finish first: a job writing during a restore would be lost
deadline=$((SECONDS + WAIT_RUNNING))
while :; do
    running="$(k get jobs -l "$SELECTOR" -o 'jsonpath={range .items[?(@.status.active)]}{.metadata.name}{" "}{end}')"
    [ -z "$running" ] && break
    if [ "$DRY_RUN" = 1 ]; then say "would wait for: $running"; break; fi
    if [ "$SECONDS" -ge "$deadline" ]; then say "still running after ${WAIT_RUNNING} s: $running"; exit 1; fi
    say "waiting for: $running"
    sleep "$POLL_SECONDS"
done

job="restore-$(date -u +%Y%m%d-%H%M%S)"
manifest="$(k create job "$job" --from=cronjob/backup --dry-run=client -o json \
    | "$KUBECTL" patch --local -f - --type=json -o json \
        -p "[{\"op\": \"add\", \"path\": \"/spec/template/spec/containers/0/command/-\", \"value\": \"--restore=$FILE\"}]")"
if [ "$DRY_RUN" = 1 ]; then
    echo "+ $KUBECTL -n $NAMESPACE create -f - <<< (job/$job: production/backup.py --quiet --restore=$FILE)"
    echo "+ $KUBECTL -n $NAMESPACE wait --for=condition=complete job/$job --timeout=${WAIT_RESTORE}s"
    exit 0
fi
printf '%s\n' "$manifest" | k create -f -
trap - EXIT
say "job/$job restoring $FILE (kubectl -n $NAMESPACE logs -f job/$job)"
if ! k wait --for=condition=complete "job/$job" --timeout="${WAIT_RESTORE}s"; then
    k logs "job/$job" --tail=20 >&2 || true
    say "the restore failed: the CronJobs stay suspended (${suspended[*]:-}); fix it and restore again, or resume"
    say "with: $0 -n $NAMESPACE --resume"
    exit 1
fi
resume
say "restored from $FILE"

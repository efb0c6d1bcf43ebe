#!/bin/sh
# The data-safety commands end to end (issue 10), as a script runs them
# (stdin is not a terminal): people by --id or exact name, delete needs
# --yes, all-digit names refused, settings bounds and --force, the audit
# trail, backup/restore and events purge.
#   safety_cli.sh FACETRACKER ASSETS_DIR
set -u
ft=$1
assets=$2
work=$(mktemp -d /tmp/ft_safety_cli_XXXXXX)
trap 'rm -rf "$work"' EXIT
db=$work/g.db
fail=0
check() { # check DESCRIPTION EXPECTED_RC ACTUAL_RC
    if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAILED: $1 (exit $3, expected $2)"; fail=1; fi
}
has() { # has DESCRIPTION NEEDLE FILE
    if grep -q -- "$2" "$3"; then echo "ok: $1"; else echo "FAILED: $1 (no '$2' in:)"; cat "$3"; fail=1; fi
}

# Two faces of the first demo photo, as separate photos.
"$ft" convert --crop 308,212,390,524 "$assets/demo/sample1.jpg" "$work/a.png" >/dev/null
"$ft" convert --crop 740,300,380,460 "$assets/demo/sample1.jpg" "$work/b.png" >/dev/null

"$ft" enroll --db "$db" Alice "$work/a.png" >"$work/out" 2>&1 </dev/null
check "enroll Alice" 0 $?
"$ft" enroll --db "$db" 12 "$work/b.png" >"$work/out" 2>&1 </dev/null
check "an all-digit name is refused" 1 $?
has "  ... and says why" "all digits" "$work/out"
"$ft" enroll --db "$db" Bob "$work/a.png" >"$work/out" 2>&1 </dev/null
check "Alice's face under Bob's name is refused" 2 $?
has "  ... naming Alice" "matches Alice" "$work/out"
"$ft" enroll --db "$db" Alice "$work/a.png" >"$work/out" 2>&1 </dev/null
check "the same photo again" 0 $?
has "  ... is skipped" '"skipped": "duplicate"' "$work/out"
"$ft" enroll --db "$db" Bob "$work/b.png" >/dev/null 2>&1 </dev/null
check "enroll Bob" 0 $?

"$ft" people --db "$db" show 1 >"$work/out" 2>&1 </dev/null
check "a bare number is not guessed" 2 $?
has "  ... and --id is suggested" "--id 1" "$work/out"
"$ft" people --db "$db" show --id 1 >"$work/out" 2>&1 </dev/null
check "show --id 1" 0 $?
has "  ... is Alice" '"name": "Alice"' "$work/out"
"$ft" people --db "$db" rename Bob 1 >/dev/null 2>&1 </dev/null
check "rename to an all-digit name is refused" 2 $?
"$ft" people --db "$db" delete Bob >"$work/out" 2>&1 </dev/null
check "delete without --yes in a script is refused" 1 $?
has "  ... saying why" "without --yes" "$work/out"
"$ft" people --db "$db" delete Bob --yes >/dev/null 2>&1 </dev/null
check "delete --yes" 0 $?

"$ft" settings --db "$db" --descriptor resnet128 set threshold 10 >"$work/out" 2>&1
check "threshold 10 is out of bounds" 2 $?
"$ft" settings --db "$db" --descriptor resnet128 set threshold 0.7 >"$work/out" 2>&1
check "a looser threshold needs --force" 1 $?
has "  ... and says what it means" "safe maximum" "$work/out"
"$ft" settings --db "$db" --descriptor resnet128 set threshold 0.7 --force >"$work/out" 2>&1
check "set threshold 0.7 --force" 0 $?
has "  ... stored" '"threshold": 0.7' "$work/out"
"$ft" settings --db "$db" --descriptor resnet128 reset </dev/null >"$work/out" 2>&1
check "reset without --yes in a script is refused" 1 $?
"$ft" settings --db "$db" --descriptor resnet128 reset --yes >"$work/out" 2>&1
check "reset --yes" 0 $?
has "  ... back to 0.5" '"threshold": 0.5' "$work/out"

# Threshold and margin per descriptor space; the gate and person_cap shared.
"$ft" settings --db "$db" --descriptor faceres set threshold 0.33 >"$work/out" 2>&1
check "settings --descriptor faceres set threshold 0.33" 0 $?
has "  ... names the space" '"descriptor": "faceres"' "$work/out"
has "  ... stored" '"threshold": 0.33' "$work/out"
"$ft" settings --db "$db" --descriptor resnet128 show >"$work/out" 2>&1
check "settings --descriptor resnet128 show" 0 $?
has "  ... resnet128's threshold untouched" '"threshold": 0.5,' "$work/out"
"$ft" settings --db "$db" --descriptor faceres set threshold 0.45 >"$work/out" 2>&1
check "faceres above its safe maximum needs --force" 1 $?
has "  ... its own safe maximum" "faceres threshold 0.45 is above the safe maximum 0.4" "$work/out"
"$ft" settings --db "$db" --descriptor faceres set threshold 0.9 --force >"$work/out" 2>&1
check "faceres threshold 0.9 is out of its bounds" 2 $?
"$ft" settings --db "$db" --descriptor faceres get >"$work/out" 2>&1
check "settings get --descriptor faceres" 0 $?
has "  ... still 0.33" '"threshold": 0.33' "$work/out"
"$ft" settings --db "$db" set person_cap 0.9 >"$work/out" 2>&1
check "raising person_cap needs --force" 1 $?
has "  ... says what it loosens" "person_cap 0.9 is above 0.8" "$work/out"
"$ft" settings --db "$db" set person_cap 0.9 --force >"$work/out" 2>&1
check "set person_cap 0.9 --force" 0 $?
"$ft" settings --db "$db" --descriptor faceres show >"$work/out" 2>&1
has "  ... shared by the spaces" '"person_cap": 0.9' "$work/out"
"$ft" settings --db "$db" --descriptor nope show >"$work/out" 2>&1
check "an unknown descriptor is refused" 1 $?
"$ft" calibrate --db "$db" --descriptor faceres --dry-run >"$work/out" 2>&1
check "calibrate --descriptor faceres --dry-run" 0 $?
has "  ... of faceres's samples" '"descriptor": "faceres"' "$work/out"

"$ft" audit --db "$db" >"$work/out" 2>&1
check "audit" 0 $?
for a in person.enrol person.delete settings.change settings.reset; do
    has "  ... records $a" "\"action\": \"$a\"" "$work/out"
done
has "  ... with the user" '"actor": "cli:' "$work/out"
"$ft" audit --db "$db" --csv >"$work/out" 2>&1
has "audit --csv" "id,time,time_utc,actor,action,target,detail" "$work/out"

"$ft" backup --db "$db" "$work/copy.db" >"$work/out" 2>&1
check "backup" 0 $?
has "  ... counts" '"people": 1' "$work/out"
"$ft" people --db "$db" erase Alice --yes >/dev/null 2>&1 </dev/null
check "erase --yes" 0 $?
"$ft" restore --db "$db" "$work/copy.db" </dev/null >"$work/out" 2>&1
check "restore without --yes in a script is refused" 1 $?
"$ft" restore --db "$db" "$work/copy.db" --yes >"$work/out" 2>&1
check "restore --yes" 0 $?
"$ft" people --db "$db" show Alice >/dev/null 2>&1
check "  ... Alice is back" 0 $?
echo "not a gallery" >"$work/junk.db"
"$ft" restore --db "$db" "$work/junk.db" --yes >"$work/out" 2>&1
check "restore of a non-gallery is refused" 2 $?
"$ft" events purge --db "$db" >"$work/out" 2>&1
check "events purge" 0 $?
has "  ... reports" '"thumbnails_removed": 0' "$work/out"
exit $fail

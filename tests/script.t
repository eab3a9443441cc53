#!/usr/bin/env bash
# Scripts: one command a line, # comments, stop at the first failing line
# and name it; `hv -f`, #! scripts and stdin.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/deploy.hv" <<'HV'
vm create s1 --memory 128M   # first line
# a comment line does not count as a command
vm create s2 --memory 128M
HV
# line 3 is the comment; make the error be on line 3 in a second script
cat > "$TMP/bad.hv" <<'HV'
vm create s1 --memory 128M
vm create s2 --memory 128M
vm create s1 --memory 128M
vm create s3 --memory 128M
HV
run_hv -f "$TMP/bad.hv"
is "$rc" 1 "script with an error on line 3 exits 1"
one_error_line "one error line"
printf '%s' "$err" | grep -q "bad.hv:3:"; ok $? "error names line 3 ($err)"
run_hv vm list --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(",".join(v["name"] for v in json.load(sys.stdin)))')" "s1,s2" "lines 1-2 took effect, line 4 did not run"

# a usage error on line 3 also stops the script with status 1
printf 'vm list\n\nvm create u1 --memory lots\nvm create u2\n' > "$TMP/usage.hv"
run_hv -f "$TMP/usage.hv"
is "$rc" 1 "usage error in a script exits 1"
printf '%s' "$err" | grep -q "usage.hv:3:"; ok $? "usage error names line 3"
run_hv vm show u2
is "$rc" 1 "nothing after the failing line ran"

# comments, blank lines, quotes, a leading `hv`
cat > "$TMP/ok.hv" <<'HV'
#!/usr/bin/env hv
# create a VM with a quoted command line

hv vm create q1 --memory 64M --notes "web tier, rack 4"  # trailing comment
vm set q1 --cmdline 'console=ttyS0 quiet'
HV
run_hv -f "$TMP/ok.hv"
ok $rc "comments, quotes and a leading hv are accepted"
run_hv vm show q1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["notes"])')" "web tier, rack 4" "double-quoted value kept whole"

# #! script: the kernel runs it as `hv FILE`
mkdir -p "$TMP/bin"; ln -s "$HV" "$TMP/bin/hv"
printf '#!/usr/bin/env hv\nvm create shebang1 --memory 64M\n' > "$TMP/run.hv"; chmod +x "$TMP/run.hv"
PATH="$TMP/bin:$PATH" "$TMP/run.hv" >/dev/null 2>&1
ok $? "#!/usr/bin/env hv script runs"
run_hv vm show shebang1
ok $rc "#! script took effect"

# stdin
printf 'vm create piped1 --memory 64M\nvm nosuchverb\n' | "$HV" >/dev/null 2>"$TMP/e"; r=$?
is "$r" 1 "piped commands stop at the failing line"
grep -q '<stdin>:2:' "$TMP/e"; ok $? "stdin errors name the line"

run_hv -f "$TMP/missing.hv"
is "$rc" 1 "missing script file exits 1"
one_error_line "missing script"
printf 'vm create "unterminated\n' > "$TMP/q.hv"
run_hv -f "$TMP/q.hv"
is "$rc" 1 "unterminated quote exits 1"
printf '%s' "$err" | grep -q 'q.hv:1: unterminated quote'; ok $? "and says so with the line"
done_testing

#!/usr/bin/env bash
# The REPL under a real pseudo-terminal (tmux): tab completion of nouns,
# verbs, VM names and options; the result read back from the pane;
# history kept in $HV_HOME/history.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || skip_all "tmux is not installed"

"$HV" vm create webserver-01 --memory 256M >/dev/null || { echo "1..0 # SKIP cannot create a VM"; exit 0; }
"$HV" vm create dbserver --memory 256M >/dev/null

S=hvtest$$
export TMUX_TMPDIR=$TMP
tmux -f /dev/null new-session -d -s $S -x 120 -y 40 \
	"env HV_HOME='$HV_HOME' ASAN_OPTIONS='$ASAN_OPTIONS' '$HV'; echo REPL-EXIT=\$?; sleep 30"
trap 'tmux kill-server 2>/dev/null; rm -rf "$TMP"' EXIT

pane() { tmux capture-pane -p -t $S -S -200; }
wait_for() {	# pattern, seconds
	for _ in $(seq 1 $(($2 * 10))); do
		pane | grep -q -- "$1" && return 0
		sleep 0.1
	done
	return 1
}

wait_for 'hv>' 30; ok $? "the shell shows its prompt"

# "vm sho<Tab> web<Tab>" completes to "vm show webserver-01"
tmux send-keys -t $S 'vm sho' Tab
tmux send-keys -t $S 'web' Tab
wait_for 'hv> vm show webserver-01' 20; ok $? "Tab completes the verb and the VM name"
tmux send-keys -t $S Enter
wait_for 'Name: *webserver-01' 20; ok $? "the completed command ran and printed the VM"

# options complete too: "--js<Tab>"
tmux send-keys -t $S 'vm list --js' Tab
wait_for 'hv> vm list --json' 20; ok $? "Tab completes an option"
tmux send-keys -t $S Enter
wait_for '"name":.*"dbserver"' 20; ok $? "vm list --json ran"

# nouns complete at the start
tmux send-keys -t $S 'versi' Tab Enter
wait_for '^hv [0-9]' 20; ok $? "Tab completes a noun (version)"

# an error does not end the shell
tmux send-keys -t $S 'vm show nosuch' Enter
wait_for "hv: no VM named 'nosuch'" 20; ok $? "errors are printed"
tmux send-keys -t $S 'exit' Enter
wait_for 'REPL-EXIT=' 20; ok $? "exit leaves the shell"
grep -q '^vm show webserver-01' "$HV_HOME/history"; ok $? "history saved in \$HV_HOME/history"
if ! pane | grep -q 'Sanitizer\|runtime error'; then ok 0 "no sanitizer report"; else ok 1 "no sanitizer report"; pane | tail -20 | sed 's/^/# /'; fi
done_testing

# tests/tui/lib-tmux.sh - hv tui in a tmux pane of a private tmux server.
# Source it after ../lib.sh; it skips without tmux and defines:
#	tm ARGS...            tmux on this test's own server (killed at exit
#	                      by tmux_cleanup, which the test's trap calls)
#	screen                the pane's text
#	wait_screen PAT SECS  until the pane shows PAT (else diag the screen)
#	keys KEYS...          send-keys to the pane, then a moment for the TUI
command -v tmux >/dev/null || skip_all "tmux is not installed"
SOCK=hvtui-$$
tm() { tmux -L "$SOCK" "$@"; }
tmux_cleanup() { tm kill-server 2>/dev/null; }
screen() { tm capture-pane -t tui -p; }
wait_screen() {
	for _ in $(seq 1 $(($2 * 10))); do
		screen | grep -q -- "$1" && return 0
		sleep 0.1
	done
	diag "screen was:" "$(screen)"
	return 1
}
keys() { tm send-keys -t tui "$@"; sleep 0.15; }

// Processes that the dev scripts start must not outlive them, however they end.
//
// Node has no prctl(PR_SET_PDEATHSIG), and a SIGKILLed process runs no handler, so the stop has
// to come from outside: a small `sh` in its own process group holds the read end of a pipe whose
// only writer is this process. The kernel closes the write end when this process ends for any
// reason (exit, crash, SIGKILL), the shell's `read` sees EOF at once and stops every pid it was
// told about. Unlike polling `kill -0 <parent>`, nothing waits a poll interval and a recycled
// parent pid cannot keep it asleep. The pipe is close-on-exec, so the processes it watches do not
// hold it open themselves.
import { spawn } from 'node:child_process';

export interface Watchdog {
  /** Stop `pid` (SIGTERM, SIGKILL after the grace period) once this process is gone. */
  watch(pid: number | undefined): void;
  /** After a clean stop: the watched processes are gone, so their pids must not be signalled. */
  disarm(): void;
}

// Stops in reverse order of start, each before the next, as `stop()` does: etcd signalled
// together with the API server waits for the server's watches to end, and the two hang until
// SIGKILL. `graceSeconds` bounds the whole sequence; what is left then gets SIGKILL. An exited
// process counts as gone while it is a zombie: orphans wait for init to reap them, and some
// inits (containers, microVMs) do that only every few seconds.
const script = `
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  stat=
  read -r stat < "/proc/$1/stat" 2>/dev/null || return 0
  case "$stat" in *") Z "*) return 1 ;; esac
}
pids=
while read -r line; do
  case "$line" in
    disarm) exit 0 ;;
    *) pids="$line $pids" ;;
  esac
done
[ -n "$pids" ] || exit 0
ticks=$(($0 * 10))
for p in $pids; do
  kill -TERM "$p" 2>/dev/null || continue
  while [ "$ticks" -gt 0 ] && alive "$p"; do
    sleep 0.1
    ticks=$((ticks - 1))
  done
done
kill -KILL $pids 2>/dev/null
`;

export function startWatchdog(graceSeconds = 5): Watchdog {
  const child = spawn('sh', ['-c', script, String(graceSeconds)], {
    // Its own process group: a Ctrl-C in the terminal or a signal to the launcher's group must
    // not take the watchdog down before the launcher.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  const stdin = child.stdin;
  if (!stdin) throw new Error('watchdog: no stdin pipe');
  // The pipe must not keep the event loop alive, and a watchdog that died early must not crash us.
  stdin.on('error', () => {});
  (stdin as unknown as { unref(): void }).unref();
  let disarmed = false;
  return {
    watch(pid) {
      if (pid !== undefined && !disarmed) stdin.write(`${pid}\n`);
    },
    disarm() {
      if (disarmed) return;
      disarmed = true;
      stdin.end('disarm\n');
    },
  };
}

/**
 * Calls `onOrphaned` once the parent is gone (its pid changes to a reaper's): `npm run` killed
 * with SIGKILL cannot forward anything, so the script notices by itself. Returns a stop function.
 */
export function whenOrphaned(onOrphaned: () => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onOrphaned();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

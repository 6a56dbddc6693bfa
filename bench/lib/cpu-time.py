#!/usr/bin/env python3
# cpu-time.py CMD ARGS...: runs CMD and writes "cpu USER SYS" (seconds, to the microsecond) on stderr:
# the CPU CMD and every process it waited for used, as wait4(2) tells it. GNU time prints hundredths,
# too coarse for a start of Node.js.
import os
import sys

pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"cpu {usage.ru_utime:.6f} {usage.ru_stime:.6f}\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)

// What /proc says of a process: its CPU time, memory and children.
import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime, in clock ticks (1/100 s) */
export const cpuTicks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
/**
 * The CPU a process has used, in ms: its own to the nanosecond (schedstat), and the children it has
 * waited for in clock ticks (1/100 s)
 */
export const cpuMs = (pid) => {
  const own = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return own + (Number(fields[13]) + Number(fields[14])) * 10;
};
export const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
/** children forked by any of the process's threads (each thread lists only its own) */
export const children = (pid) =>
  readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number),
  );
/** children, their children, and so on */
export const descendants = (pid) => children(pid).flatMap((c) => [c, ...descendants(c)]);
export const comm = (pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
/** /proc/PID/smaps_rollup's sizes in KiB: { Rss, Pss, Private_Clean, Private_Dirty, … } */
export const smapsRollup = (pid) =>
  Object.fromEntries(
    [...readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]),
  );

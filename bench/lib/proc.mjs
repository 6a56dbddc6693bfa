// What /proc says of a process: its CPU time, memory and children.
import { readFileSync } from 'node:fs';

/** utime + stime, in clock ticks (1/100 s) */
export const cpuTicks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
export const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
export const children = (pid) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
export const comm = (pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export function onPath(tool: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

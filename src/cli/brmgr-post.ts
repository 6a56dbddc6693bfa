#!/usr/bin/env node
import { entry } from './entry.js';

await entry('brmgr-post', ['down', ...process.argv.slice(2)]);

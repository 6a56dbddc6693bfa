#!/usr/bin/env node
import { entry } from './entry.js';

await entry('brmgr-pre', ['up', ...process.argv.slice(2)]);

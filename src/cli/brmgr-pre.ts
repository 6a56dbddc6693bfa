#!/usr/bin/env node
import { entry } from './entry.js';

await entry('brmgr-pre', process.argv.slice(2), 'up');

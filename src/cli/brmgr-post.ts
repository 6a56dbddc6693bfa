#!/usr/bin/env node
import { entry } from './entry.js';

await entry('brmgr-post', process.argv.slice(2), 'down');

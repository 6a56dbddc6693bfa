#!/usr/bin/env node
import { entry } from './entry.js';

await entry('brmgr', process.argv.slice(2));

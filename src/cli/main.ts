#!/usr/bin/env -S node --initial-old-space-size=256
import { main } from './program.js';

const exitCode = await main(process.argv);
// `serve` keeps running; other commands exit with their code once done.
if (exitCode !== 0) process.exit(exitCode);

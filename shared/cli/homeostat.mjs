#!/usr/bin/env node
// Launcher for `npx homeostat`: runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./homeostat.ts');

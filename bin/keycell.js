#!/usr/bin/env node
'use strict';
require('../dist/cli.js')
  .main(process.argv)
  .catch((error) => {
    process.stderr.write(`keycell: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 2;
  });

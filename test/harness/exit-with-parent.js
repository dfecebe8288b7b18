// Preloaded (`node --import`) into the service instances that fault tests start: an instance exits once the
// test worker that started it is gone, which closes the instance's stdin, so no test run leaves one behind.
process.stdin.on('end', () => process.exit(1));
process.stdin.on('error', () => process.exit(1));
process.stdin.resume();
process.stdin.unref();

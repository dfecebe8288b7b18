import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { armShutdownDeadline } from './shutdown-deadline.js';

describe(armShutdownDeadline.name, () => {
  afterEach(() => jest.restoreAllMocks());

  it('exits 1 once a shutdown signal is older than the deadline, naming what the process still waits on', async () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    armShutdownDeadline(50);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(exit).not.toHaveBeenCalled();

    process.emit('SIGTERM', 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(exit).not.toHaveBeenCalled();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(error).toHaveBeenCalledWith(
      { signal: 'SIGTERM', waiting_on: expect.arrayContaining([expect.any(String)]) },
      'Shutdown not finished after 50 ms; exiting',
    );
    expect(exit).toHaveBeenCalledWith(1);
    process.removeAllListeners('SIGINT');
  });
});

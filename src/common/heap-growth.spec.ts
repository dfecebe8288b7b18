import { configureHeapGrowth } from './heap-growth.js';

describe(configureHeapGrowth.name, () => {
  it('sets the growing factor when the command line does not', () => {
    expect(configureHeapGrowth(['--enable-source-maps'])).toBe(true);
  });

  it.each([['--heap-growing-percent=50'], ['--heap-growing-percent', '50']])(
    'leaves a factor given on the command line (%s)',
    (...argv) => {
      expect(configureHeapGrowth(argv)).toBe(false);
    },
  );
});

import { readFileSync } from 'node:fs';
import { CLOSE_CODES, LIVE_ERROR_CODES } from './index.js';

/** The definition and docs/protocol.md name the same close codes and error codes. */
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The first cells of the rows of the table under `heading`. */
function firstColumn(heading: string): string[] {
  const section = doc.slice(doc.indexOf(`\n${heading}\n`) + heading.length + 2);
  const rows = section.slice(section.indexOf('\n|') + 1);
  return rows
    .slice(0, rows.search(/\n(?!\|)/))
    .split('\n')
    .filter((line) => line.startsWith('|') && !line.startsWith('| ---'))
    .slice(1)
    .map((line) => line.split('|')[1].trim().replace(/`/g, ''));
}

describe('the protocol definition and docs/protocol.md', () => {
  it('list the same close codes', () => {
    expect(firstColumn('## Close codes').map(Number).sort()).toEqual(Object.keys(CLOSE_CODES).map(Number).sort());
  });

  it('list the same error codes of the error message', () => {
    expect(firstColumn('### Error messages').sort()).toEqual([...LIVE_ERROR_CODES].sort());
  });
});

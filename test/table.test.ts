import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderTable, type Column } from '../src/commands/table.js';

const COLUMNS: Column[] = [
  { head: 'MANAGER' },
  { head: 'URL', shrink: true },
  { head: 'PID', drop: 2 },
  { head: 'STATE' },
  { head: 'QUEUED' },
  { head: 'RUNNING' },
  { head: 'DONE' },
  { head: 'FAILED', drop: 1 },
  { head: 'OLDEST', drop: 1 },
  { head: 'EXPIRED', drop: 3 },
];
const ROWS = [
  ['1', 'https://ec2-203-0-113-10.eu-west-1.compute.amazonaws.com:5000', '123456', 'leader', '1200', '3', '45000', '0', '12.5s', '0'],
  ['2', 'https://127.0.0.1:5001', '-', 'DOWN', '-', '-', '-', '-', '-', '-'],
];

describe('width-aware tables', () => {
  test('at 80 columns every line fits, low-priority columns go first, and words are whole', () => {
    const out = renderTable(COLUMNS, ROWS, 80);
    for (const line of out.split('\n')) assert.ok(line.length <= 80, `${line.length}: ${line}`);
    const head = out.split('\n')[0]!;
    assert.doesNotMatch(head, /EXPIRED|PID/, 'the least needed columns are left out');
    assert.match(head, /^MANAGER {2}URL +STATE +QUEUED +RUNNING +DONE/);
    // Every value that is shown is shown whole, except the shrinkable URL, cut with an ellipsis.
    for (const v of ['leader', '1200', '45000', 'DOWN']) assert.match(out, new RegExp(`(^|  )${v}( |$)`, 'm'));
    assert.match(out, /https:\/\/ec2-.*…/);
  });

  test('wide enough: everything, nothing cut; very narrow: the essentials still align', () => {
    const wide = renderTable(COLUMNS, ROWS, 200);
    assert.match(wide.split('\n')[0]!, /EXPIRED$/);
    assert.doesNotMatch(wide, /…/);
    const narrow = renderTable(COLUMNS, ROWS, 50).split('\n');
    const at = narrow[0]!.indexOf('STATE');
    assert.equal(narrow[1]!.indexOf('leader'), at);
    assert.equal(narrow[2]!.indexOf('DOWN'), at);
  });
});

import { BranchTakenError, MAX_BRANCH_LENGTH, MAX_TITLE_LENGTH, deriveBranchName, deriveTitle, pickBranchName, titlePrefix } from '../../src/domain/naming';

describe('naming rules (docs/PRODUCT.md#naming)', () => {
  it.each([
    ['Fix the crash on save', 'fix'],
    ['there is a bug in login', 'fix'],
    ['Update the README', 'docs'],
    ['write docs for the API', 'docs'],
    ['Refactor the parser', 'refactor'],
    ['Add dark mode', 'feat'],
    ['prefix words inside others do not count: suffixes, debugger', 'feat'],
  ])('prefix of %j is %s', (prompt, prefix) => {
    expect(titlePrefix(prompt)).toBe(prefix);
  });

  it('keeps only letters, digits, spaces and dashes of the first non-blank line', () => {
    expect(deriveTitle('\n  Add (dark) mode: v2!  \nsecond line')).toBe('feat: Add dark mode v2');
  });

  it('caps the title at 62 characters without a trailing dash or space', () => {
    const title = deriveTitle(`Add ${'very-long '.repeat(20)}`);
    expect(title.length).toBeLessThanOrEqual(MAX_TITLE_LENGTH);
    expect(title).toMatch(/^feat: Add very-long/);
    expect(title).not.toMatch(/[\s-]$/);
  });

  it('derives the branch from the title: lowercased, other characters to dashes, collapsed, at most 50', () => {
    expect(deriveBranchName('fix: Fix the   login bug')).toBe('fix-fix-the-login-bug');
    const long = deriveBranchName(deriveTitle(`Add ${'word '.repeat(30)}`));
    expect(long.length).toBeLessThanOrEqual(MAX_BRANCH_LENGTH);
    expect(long).not.toMatch(/-$/);
    expect(deriveBranchName('feat: Ünïcode only')).toBe('feat-n-code-only');
  });

  it('appends -2, -3, ... on collision', () => {
    expect(pickBranchName('feat-x', new Set())).toBe('feat-x');
    expect(pickBranchName('feat-x', new Set(['feat-x']))).toBe('feat-x-2');
    expect(pickBranchName('feat-x', new Set(['feat-x', 'feat-x-2']))).toBe('feat-x-3');
    const full = 'a'.repeat(MAX_BRANCH_LENGTH);
    expect(pickBranchName(full, new Set([full]))).toBe(`${'a'.repeat(MAX_BRANCH_LENGTH - 2)}-2`);
  });

  it('refuses an explicitly requested branch that is taken', () => {
    expect(() => pickBranchName('main', new Set(['main']), true)).toThrow(BranchTakenError);
    expect(pickBranchName('my-branch', new Set(['main']), true)).toBe('my-branch');
  });
});

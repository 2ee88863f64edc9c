/**
 * Host patterns of an egress allowlist (src/domain/hostPattern.ts): which patterns are valid, and which
 * hosts a list of patterns allows.
 */
import { hostMatches, validHostPattern } from '../../src/domain/hostPattern';

describe('validHostPattern', () => {
  it.each([
    'github.com',
    'registry.npmjs.org',
    'files.pythonhosted.org',
    'a.b.c.example.co.uk',
    'xn--bcher-kva.example',
    'a-b.c0.io',
    '*.github.com',
    '*.githubusercontent.com',
    '1password.com',
    'x.y2k',
  ])('accepts %s', (pattern) => {
    expect(validHostPattern(pattern)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['upper case', 'GitHub.com'],
    ['one label', 'localhost'],
    ['one label after the wildcard', '*.com'],
    ['the wildcard alone', '*'],
    ['an empty suffix', '*.'],
    ['a wildcard inside', 'a.*.example.com'],
    ['a wildcard without its dot', '*example.com'],
    ['a double wildcard', '*.*.example.com'],
    ['a port', 'github.com:443'],
    ['an IPv4 literal', '127.0.0.1'],
    ['an IPv4 literal under a wildcard', '*.0.0.1'],
    ['a short IPv4 form', '127.1'],
    ['an IPv6 literal', '[::1]'],
    ['a bare IPv6 literal', '::1'],
    ['a localhost name', 'api.localhost'],
    ['a trailing dot', 'github.com.'],
    ['a leading dot', '.github.com'],
    ['an empty label', 'github..com'],
    ['a label starting with a dash', '-a.example.com'],
    ['a label ending with a dash', 'a-.example.com'],
    ['an underscore', 'a_b.example.com'],
    ['a space', 'git hub.com'],
    ['a path', 'github.com/org'],
    ['a scheme', 'https://github.com'],
    ['credentials', 'user@github.com'],
    ['a NUL', 'github.com\u0000'],
    ['a label of 64 characters', `${'a'.repeat(64)}.com`],
  ])('refuses %s', (_why, pattern) => {
    expect(validHostPattern(pattern)).toBe(false);
  });

  it('accepts 63-character labels and names up to 253 characters, not longer', () => {
    expect(validHostPattern(`${'a'.repeat(63)}.com`)).toBe(true);
    /** A valid name of exactly `length` characters: labels of 61 `a`s, a shorter last one, then `.com`. */
    const name = (length: number) => {
      const labels: string[] = [];
      let left = length - '.com'.length;
      for (; left > 63; left -= 62) labels.push('a'.repeat(61));
      return `${[...labels, 'a'.repeat(left)].join('.')}.com`;
    };
    expect([name(253).length, name(254).length, name(100).length]).toEqual([253, 254, 100]);
    expect(validHostPattern(name(253))).toBe(true);
    expect(validHostPattern(name(254))).toBe(false);
    expect(validHostPattern(`*.${name(251)}`)).toBe(true);
    expect(validHostPattern(`*.${name(252)}`)).toBe(false);
  });
});

describe('hostMatches', () => {
  const patterns = ['github.com', '*.example.com', 'registry.npmjs.org'];

  it('allows exact names and any subdomain of a wildcard suffix', () => {
    for (const host of ['github.com', 'registry.npmjs.org', 'a.example.com', 'a.b.example.com'])
      expect({ host, allowed: hostMatches(patterns, host) }).toEqual({ host, allowed: true });
  });

  it('does not allow the wildcard suffix itself, subdomains of an exact name, or look-alikes', () => {
    for (const host of ['example.com', 'api.github.com', 'evilgithub.com', 'github.com.evil.net', 'badexample.com', 'example.com.evil.net', 'npmjs.org', '.example.com', '']) {
      expect({ host, allowed: hostMatches(patterns, host) }).toEqual({ host, allowed: false });
    }
  });

  it('compares hosts in lower case and ignores one trailing dot', () => {
    expect(hostMatches(patterns, 'GitHub.COM')).toBe(true);
    expect(hostMatches(patterns, 'github.com.')).toBe(true);
    expect(hostMatches(patterns, 'A.Example.Com.')).toBe(true);
    expect(hostMatches(patterns, 'github.com..')).toBe(false);
  });

  it('allows nothing with no patterns', () => {
    expect(hostMatches([], 'github.com')).toBe(false);
  });
});

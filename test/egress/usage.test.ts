import { usageTap } from '../../src/egress/usage';
import { RecentModelFailures, describeModelFailure, failureOfStatus, turnShouldEnd } from '../../src/egress/failures';

const sse = (events: Array<Record<string, unknown>>) => events.map((e) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`).join('');

describe('usage read from model answers', () => {
  it('Anthropic Messages stream: input from message_start, the last cumulative output from message_delta, across chunk boundaries', () => {
    const body = sse([
      { type: 'message_start', message: { model: 'claude-x', usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 } } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } },
      { type: 'message_delta', usage: { output_tokens: 3 } },
      { type: 'message_delta', usage: { output_tokens: 7 } },
      { type: 'message_stop' },
    ]);
    const tap = usageTap('anthropic', 'text/event-stream; charset=utf-8');
    for (let i = 0; i < body.length; i += 7) tap.write(Buffer.from(body.slice(i, i + 7)));
    expect(tap.result()).toEqual({ model: 'claude-x', inputTokens: 15, outputTokens: 7 });
  });

  it('OpenAI Responses stream: response.completed carries the usage', () => {
    const tap = usageTap('openai', 'text/event-stream');
    tap.write(
      Buffer.from(
        sse([
          { type: 'response.output_text.delta', delta: 'x' },
          { type: 'response.completed', response: { model: 'gpt-x', usage: { input_tokens: 20, output_tokens: 6 } } },
        ]),
      ),
    );
    expect(tap.result()).toEqual({ model: 'gpt-x', inputTokens: 20, outputTokens: 6 });
  });

  it('a whole JSON body, and nothing for an answer without usage', () => {
    const json = usageTap('anthropic', 'application/json');
    json.write(Buffer.from(JSON.stringify({ type: 'message', model: 'claude-y', usage: { input_tokens: 3, output_tokens: 1 } })));
    expect(json.result()).toEqual({ model: 'claude-y', inputTokens: 3, outputTokens: 1 });
    const error = usageTap('anthropic', 'application/json');
    error.write(Buffer.from(JSON.stringify({ type: 'error', error: { type: 'authentication_error' } })));
    expect(error.result()).toBeNull();
  });
});

describe('model failures', () => {
  it('classifies statuses and says what happened in one sentence', () => {
    expect([401, 403, 429, 500, 200, 400].map(failureOfStatus)).toEqual(['key_refused', 'key_refused', 'rate_limited', 'model_error', null, null]);
    expect(describeModelFailure({ kind: 'rate_limited', provider: 'openai', status: 429 })).toBe('The OpenAI API is rate-limiting this workspace (HTTP 429); try again later.');
    expect(describeModelFailure({ kind: 'unreachable', provider: 'anthropic', status: 502 })).toBe('The Anthropic API could not be reached from this host.');
  });

  it('a refused key ends the turn at once; other failures after the grace period of failing in a row; a success ends the streak', () => {
    const failures = new RecentModelFailures();
    failures.note('sb', { kind: 'unreachable', status: 502, provider: 'anthropic', at: 1_000 });
    failures.note('sb', { kind: 'unreachable', status: 502, provider: 'anthropic', at: 5_000 });
    const f = failures.since('sb', 500)!;
    expect(f.streakStartedAt).toBe(1_000);
    expect(turnShouldEnd(f, 500, 10_000, 20_000)).toBe(false);
    expect(turnShouldEnd(f, 500, 21_000, 20_000)).toBe(true);
    expect(failures.since('sb', 6_000)).toBeNull(); // older than the turn
    failures.succeeded('sb');
    expect(failures.since('sb', 0)).toBeNull();
    failures.note('sb', { kind: 'key_refused', status: 401, provider: 'anthropic', at: 30_000 });
    expect(turnShouldEnd(failures.since('sb', 29_000), 29_000, 30_001, 20_000)).toBe(true);
  });
});

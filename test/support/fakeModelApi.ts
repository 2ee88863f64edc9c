/**
 * A FAKE model API on this machine's loopback, for tests: the real Anthropic and OpenAI APIs cannot be
 * reached from here. It speaks just enough of the Anthropic Messages API (`POST /v1/messages`,
 * streaming server-sent events or one JSON body) and the OpenAI Responses API (`POST /v1/responses`,
 * streaming) for claude-agent-acp and codex-acp to hold a conversation, and records every request.
 *
 * What it answers:
 * - a prompt whose last user text contains `WRITE_FILE <path> <content>` (Anthropic): a `tool_use` of
 *   the agent's own `Write` tool with that path and content; once the tool result comes back, text;
 * - otherwise a streamed text reply, `Hello from the fake model` (Anthropic) or
 *   `Hello from the fake OpenAI` (OpenAI), with usage (12 in / 5 out, and 20 in / 6 out);
 * - `failWith(status)` makes every following model request fail with that status until cleared.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedModelRequest {
  provider: 'anthropic' | 'openai';
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface FakeModelApi {
  /** Origin to give the egress proxy (MODEL_API_ORIGINS). */
  url: string;
  requests: RecordedModelRequest[];
  /** Every following model request answers `status` (null: normal answers again). */
  failWith(status: number | null): void;
  close(): Promise<void>;
}

export const FAKE_ANTHROPIC_TEXT = 'Hello from the fake model';
export const FAKE_OPENAI_TEXT = 'Hello from the fake OpenAI';

export async function startFakeModelApi(): Promise<FakeModelApi> {
  const requests: RecordedModelRequest[] = [];
  let failing: number | null = null;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: any = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      const provider = path.startsWith('/v1/responses') ? 'openai' : 'anthropic';
      if (req.method === 'POST') requests.push({ provider, path, headers: req.headers, body });
      if (req.method !== 'POST') return void res.writeHead(200).end();
      if (failing !== null) {
        res.writeHead(failing, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ type: 'error', error: { type: failing === 429 ? 'rate_limit_error' : 'authentication_error', message: `fake failure ${failing}` } }));
      }
      if (path === '/v1/messages/count_tokens') return void json(res, { input_tokens: 10 });
      if (path === '/v1/messages') return anthropic(res, body);
      if (path === '/v1/responses') return openai(res, body);
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failWith: (status) => {
      failing = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: http.ServerResponse, value: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** The text of the last user message, and whether it carries a tool result. */
function lastUserTurn(body: any): { text: string; toolResult: boolean } {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const content = typeof last?.content === 'string' ? [{ type: 'text', text: last.content }] : Array.isArray(last?.content) ? last.content : [];
  return {
    text: content
      .filter((c: any) => c.type === 'text')
      .map((c: any) => c.text)
      .join('\n'),
    toolResult: content.some((c: any) => c.type === 'tool_result'),
  };
}

function anthropic(res: http.ServerResponse, body: any): void {
  const model = body?.model ?? 'claude-fake';
  const turn = lastUserTurn(body);
  const write = /WRITE_FILE (\S+) (\S+)/.exec(turn.text);
  const usage = { input_tokens: 12, output_tokens: 5 };
  if (!body?.stream) {
    return json(res, {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: FAKE_ANTHROPIC_TEXT }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage,
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event('message_start', {
    message: { id: 'msg_fake', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } },
  });
  if (write && !turn.toolResult) {
    const input = JSON.stringify({ file_path: write[1], content: `${write[2]}\n` });
    event('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_fake_1', name: 'Write', input: {} } });
    event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: input } });
    event('content_block_stop', { index: 0 });
    event('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } });
  } else {
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    // Two deltas: the reply streams in more than one piece.
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello from ' } });
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'the fake model' } });
    event('content_block_stop', { index: 0 });
    event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } });
  }
  event('message_stop', {});
  res.end();
}

function openai(res: http.ServerResponse, body: any): void {
  const model = body?.model ?? 'gpt-fake';
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let seq = 0;
  const event = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
  const part = { type: 'output_text', text: FAKE_OPENAI_TEXT, annotations: [] };
  const item = { id: 'msg_fake', type: 'message', role: 'assistant', status: 'completed', content: [part] };
  event('response.created', { response: { id: 'resp_fake', object: 'response', created_at: 1, status: 'in_progress', model, output: [] } });
  event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
  event('response.content_part.added', { item_id: 'msg_fake', output_index: 0, content_index: 0, part: { ...part, text: '' } });
  event('response.output_text.delta', { item_id: 'msg_fake', output_index: 0, content_index: 0, delta: 'Hello from ' });
  event('response.output_text.delta', { item_id: 'msg_fake', output_index: 0, content_index: 0, delta: 'the fake OpenAI' });
  event('response.output_text.done', { item_id: 'msg_fake', output_index: 0, content_index: 0, text: FAKE_OPENAI_TEXT });
  event('response.content_part.done', { item_id: 'msg_fake', output_index: 0, content_index: 0, part });
  event('response.output_item.done', { output_index: 0, item });
  const usage = { input_tokens: 20, input_tokens_details: { cached_tokens: 0 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 26 };
  event('response.completed', { response: { id: 'resp_fake', object: 'response', created_at: 1, status: 'completed', model, output: [item], usage } });
  res.end();
}

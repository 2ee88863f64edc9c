/**
 * Token usage read from model API responses as they stream through the egress proxy: the Anthropic
 * Messages API (`message_start` carries `usage.input_tokens`, `message_delta` the running
 * `usage.output_tokens`) and the OpenAI Responses API (`response.completed` carries
 * `response.usage.{input_tokens, output_tokens}`), as server-sent events or as one JSON body.
 * Pure: fed the response bytes, no I/O.
 */
import type { ModelProvider } from '../domain/agents';

export interface ModelUsageReading {
  model: string | null;
  inputTokens: number;
  outputTokens: number;
}

/** Reads usage from a response's bytes as they pass; {@link UsageTap.result} after the end. */
export interface UsageTap {
  write(chunk: Buffer): void;
  /** The usage the response reported, or null when it reported none (an error, an unrelated route). */
  result(): ModelUsageReading | null;
}

/** Longest SSE event or JSON body kept for parsing (bytes); a longer one is skipped, never buffered whole. */
const MAX_EVENT_BYTES = 1024 * 1024;

/** A tap for one response of `provider`; `contentType` tells SSE from JSON. */
export function usageTap(provider: ModelProvider, contentType: string | undefined): UsageTap {
  const sse = (contentType ?? '').includes('text/event-stream');
  const reading: ModelUsageReading = { model: null, inputTokens: 0, outputTokens: 0 };
  let seen = false;
  let buffer = '';
  let overflow = false;
  const take = (data: unknown) => {
    if (applyUsage(provider, data, reading)) seen = true;
  };
  return {
    write(chunk) {
      if (overflow) return;
      buffer += chunk.toString('utf8');
      if (sse) {
        buffer = buffer.replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer
            .slice(0, end)
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          buffer = buffer.slice(end + 2);
          if (data && data !== '[DONE]') take(parseJson(data));
        }
      }
      if (buffer.length > MAX_EVENT_BYTES) overflow = !sse; // an SSE stream just drops an oversized event
      if (sse && buffer.length > MAX_EVENT_BYTES) buffer = '';
    },
    result() {
      if (!sse && !overflow && buffer) take(parseJson(buffer));
      return seen ? reading : null;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' ? (v as Json) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

/** Folds one event (or a whole JSON body) into `reading`; true when it carried usage. */
function applyUsage(provider: ModelProvider, data: unknown, reading: ModelUsageReading): boolean {
  const event = obj(data);
  if (!event) return false;
  if (provider === 'anthropic') {
    // Streaming: message_start {message: {model, usage}}, message_delta {usage: {output_tokens}}.
    // Whole body: {type: 'message', model, usage}.
    const message = event.type === 'message_start' ? obj(event.message) : event.type === 'message' ? event : undefined;
    if (message) {
      if (typeof message.model === 'string') reading.model = message.model;
      const usage = obj(message.usage);
      if (!usage) return false;
      reading.inputTokens += (num(usage.input_tokens) ?? 0) + (num(usage.cache_creation_input_tokens) ?? 0) + (num(usage.cache_read_input_tokens) ?? 0);
      reading.outputTokens = num(usage.output_tokens) ?? reading.outputTokens;
      return true;
    }
    if (event.type === 'message_delta') {
      const usage = obj(event.usage);
      const out = num(usage?.output_tokens);
      if (out === undefined) return false;
      reading.outputTokens = out; // cumulative, per the Messages API
      return true;
    }
    return false;
  }
  // OpenAI Responses: response.completed {response: {model, usage}}; whole body: {object: 'response', usage}.
  const response = event.type === 'response.completed' || event.type === 'response.incomplete' ? obj(event.response) : event.object === 'response' ? event : undefined;
  const usage = obj(response?.usage);
  if (!response || !usage) return false;
  if (typeof response.model === 'string') reading.model = response.model;
  reading.inputTokens = num(usage.input_tokens) ?? 0;
  reading.outputTokens = num(usage.output_tokens) ?? 0;
  return true;
}

import type { FastifyInstance } from 'fastify';
import type { Loopgate } from '../../loopgate.js';
import { problemResponses } from '../schemas.js';

const WINDOWS: Record<string, { windowMs: number; bucketMs: number }> = {
  '1h': { windowMs: 3_600_000, bucketMs: 5 * 60_000 },
  '24h': { windowMs: 86_400_000, bucketMs: 3_600_000 },
  '7d': { windowMs: 7 * 86_400_000, bucketMs: 6 * 3_600_000 },
};

export function registerStatsRoutes(app: FastifyInstance, lg: Loopgate): void {
  app.get<{ Querystring: { window?: string } }>(
    '/v1/stats/review',
    {
      schema: {
        tags: ['cases'],
        summary: 'Dashboard figures: queue depth and age, decisions by outcome over time, time to decision, overrides of the machine.',
        querystring: { type: 'object', additionalProperties: false, properties: { window: { type: 'string', enum: Object.keys(WINDOWS) } } },
        response: problemResponses(400, 401, 403),
      },
    },
    async (request) => {
      const w = WINDOWS[request.query.window ?? '24h']!;
      return lg.stats.review(w.windowMs, w.bucketMs);
    },
  );
}

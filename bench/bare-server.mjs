// The baseline for the decision benchmark: a bare Fastify endpoint that parses the same JSON body and answers
// with a small JSON object. No schema, no logging, nothing else: the HTTP limit of one Node process.
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';

const app = Fastify({ logger: false, bodyLimit: 65536 });
app.post('/v1/decisions', async (request) => {
  const event = request.body.event;
  return { id: randomUUID(), outcome: 'allow', subject: event.subject.id };
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stderr.write(`listening on http://127.0.0.1:${app.server.address().port}\n`);

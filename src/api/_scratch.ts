import { z } from 'zod';
const Ref = z.object({
  id: z.string().max(10).optional().describe('the id'),
  name: z.string().regex(/^[a-z]+$/).optional(),
  kind: z.enum(['A','B']).default('A').meta({ description: 'kind desc' }),
  n: z.number().int().min(1).max(5).optional(),
  f: z.number().gt(0).lt(1).optional(),
  m: z.record(z.string(), z.string()).optional(),
  arr: z.array(z.string()).max(3).optional(),
  date: z.iso.datetime().optional(),
  lit: z.literal('x').optional(),
  u: z.union([z.number().int(), z.string()]).optional(),
  obj: z.object({ a: z.string().default('q') }).default({}),
}).meta({ description: 'ref', 'x-kubernetes-validations': [{ rule: 'has(self.id) != has(self.name)', message: 'exactly one' }] })
  .superRefine((v, ctx) => { if (!!v.id === !!v.name) ctx.addIssue({ code: 'custom', message: 'exactly one' }); });
const Top = z.object({ a: Ref, b: Ref.optional(), c: z.looseObject({ x: z.string() }) });
console.log(JSON.stringify(z.toJSONSchema(Top, { io: 'input', reused: 'inline', target: 'openapi-3.0' }), null, 1));

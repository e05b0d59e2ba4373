/**
 * A job's validation report as figures: `GET /v1/admin/jobs/:id/report/figures` gives the
 * report's charts as ECharts options (models/charts.ts), for the console to draw, their texts in
 * English or, with `?lang=zh`, in Chinese (the titles come in both). The report is
 * the one the bank node stored when it assembled the scorecard (server/jobs/scorecard-artifacts.ts);
 * the `lr` pipeline keeps test metrics only and has none, nor do the platform and the coordinator:
 * a coded 404 says so.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IndomainError } from '../../engine/errors.ts';
import { localiseOption, reportFigures } from '../../models/charts.ts';
import type { ScorecardReport } from '../../models/report.ts';
import { errors, JobId, security } from './schemas.ts';

const Text = Type.Object({ en: Type.String(), zh: Type.String() }, { additionalProperties: false });
/** models/charts.ts Figure: the option is plain JSON, passed through as it is. */
export const FigureBody = Type.Object(
  { id: Type.String(), title: Text, option: Type.Record(Type.String(), Type.Unknown()) },
  { additionalProperties: false, description: 'One chart: an ECharts option (JSON, English texts) and its title in English and Chinese' },
);

const Lang = Type.Object({ lang: Type.Optional(Type.Union([Type.Literal('en'), Type.Literal('zh')], { description: "the options' texts: en (default) or zh" })) }, { additionalProperties: false });

export const reportsPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app.node;
  app.get(
    '/:id/report/figures',
    { schema: { summary: "The charts of a job's validation report (ECharts options)", security, params: JobId, querystring: Lang, response: { 200: Type.Array(FigureBody), ...errors } } },
    async (req) => {
      const id = req.params.id;
      if (!store.job(id)) throw new IndomainError('SRV_NOT_FOUND', `job "${id}"`);
      const report = store.model(id, 'report') as ScorecardReport | undefined;
      if (!report) throw new IndomainError('SRV_NOT_FOUND', `job "${id}" has no validation report on this node`);
      const lang = req.query.lang ?? 'en';
      return reportFigures(report).map((f) => ({ ...f, option: localiseOption(f.option, lang) }));
    },
  );
};

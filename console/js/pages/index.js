// Every page, the roles it belongs to, and the navigation per role.
import { approvalsPage, authorisationsPage } from './platform.js';
import { datasetsPage, jobPage, jobsPage } from './jobs.js';
import { monitoringPage, scoringPage } from './bank.js';
import { reportPage } from './report.js';
import { newJobPage } from './new-job.js';
import { verifyPage } from './regulator.js';

const NODES = ['platform', 'bank', 'coordinator'];

/** path → { title (i18n key), roles, render(main, args, me) → cleanup?, nav (shown in the bar) } */
export const PAGES = {
  jobs: { title: 'nav.jobs', roles: NODES, render: jobsPage, nav: true },
  job: { title: 'nav.job', roles: NODES, render: jobPage },
  datasets: { title: 'nav.datasets', roles: ['platform', 'bank'], render: datasetsPage, nav: true },
  authorisations: { title: 'nav.authorisations', roles: ['platform'], render: authorisationsPage, nav: true },
  approvals: { title: 'nav.approvals', roles: ['platform'], render: approvalsPage, nav: true },
  'new-job': { title: 'nav.newJob', roles: ['coordinator'], render: newJobPage, nav: true },
  report: { title: 'nav.report', roles: ['bank'], render: reportPage, nav: true },
  scoring: { title: 'nav.scoring', roles: ['bank'], render: scoringPage, nav: true },
  monitoring: { title: 'nav.monitoring', roles: ['bank'], render: monitoringPage, nav: true },
  verify: { title: 'nav.verify', roles: ['regulator'], render: verifyPage, nav: true },
};

const ORDER = { platform: ['approvals', 'jobs', 'authorisations', 'datasets'], bank: ['jobs', 'report', 'scoring', 'monitoring', 'datasets'], coordinator: ['jobs', 'new-job'], regulator: ['verify'] };

export function navFor(role) {
  const own = (ORDER[role] ?? []).map((path) => ({ path, title: PAGES[path].title }));
  // A bank creates its jobs at the coordinator (which runs them): a link to that console's form.
  if (role === 'bank') own.push({ path: 'coordinator-new-job', title: 'nav.newJob', external: (me) => `${me.peers.find((p) => p.role === 'coordinator')?.console ?? '/console/'}#/new-job` });
  return own;
}

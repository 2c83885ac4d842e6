// pages/runs.js - the Runs page: #/runs (start a run, the runs in progress, the history with
// filters) and #/runs/ID (one run: live progress, stop, counts, reconciliation, failures and
// each record's outcome, a dry run's differences side by side). The two views live in
// pages/runs/list.js and pages/runs/detail.js.
import { renderList } from './runs/list.js';
import { renderDetail } from './runs/detail.js';

export default {
  id: 'runs',
  title: 'Runs',
  render(root, params, app) {
    return params[0] ? renderDetail(root, params[0], app) : renderList(root, app);
  },
};

'use strict'
// The commands, in the order `fine-tune --help` lists them. Each file exports its summary,
// usage lines, description, flags, positionals and `run`.

module.exports = {
  train: require('./train'),
  validate: require('./validate'),
  status: require('./status'),
  list: require('./list'),
  show: require('./show'),
  cancel: require('./cancel'),
  pause: require('./pause'),
  resume: require('./resume'),
  doctor: require('./doctor'),
  eval: require('./eval'),
  versions: require('./versions'),
  promote: require('./promote'),
  rollback: require('./rollback'),
  remove: require('./remove'),
  import: require('./import'),
  emulate: require('./emulate'),
}

# Rendered by openim-deploy from playbooks/templates/mongodb.yml.tpl for
# ${host.name}. The password comes from IMENV_MONGODB_PASSWORD (the
# playbook's secret_environment), never from this file.
uri: ''
address: [ ${join(", ", address)} ]
database: openim_v3
username: openIM
password: ''
authSource: openim_v3
maxPoolSize: 100
maxRetry: 10

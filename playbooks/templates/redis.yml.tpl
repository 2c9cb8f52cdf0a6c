# Rendered by openim-deploy from playbooks/templates/redis.yml.tpl for
# ${host.name}. The password comes from IMENV_REDIS_PASSWORD.
address: [ ${address} ]
username: ''
password: ''
clusterMode: false
db: 0
maxRetry: 10
poolSize: 100

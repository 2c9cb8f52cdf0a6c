# Rendered by openim-deploy from playbooks/templates/discovery.yml.tpl for
# ${host.name}: the etcd members are the inventory's infra hosts.
enable: etcd
etcd:
  rootDirectory: openim
  address: [ ${join(", ", etcd)} ]
  username: ''
  password: ''

kubernetes:
  namespace: default

rpcService:
  user: user-rpc-service
  friend: friend-rpc-service
  msg: msg-rpc-service
  push: push-rpc-service
  messageGateway: messagegateway-rpc-service
  group: group-rpc-service
  auth: auth-rpc-service
  conversation: conversation-rpc-service
  third: third-rpc-service

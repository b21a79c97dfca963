module craftplane.local/routerload

go 1.22

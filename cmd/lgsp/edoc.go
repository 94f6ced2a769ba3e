package main

import (
	_ "github.com/tuyenquang/lgsp/bus/transform" // registers the edXML and XML-DSig route steps
)

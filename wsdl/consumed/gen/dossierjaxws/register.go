package dossierjaxws

import (
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/soapout"
)

func init() {
	soapout.Register("dossier-jaxws/pushDocument", soapout.Binding{
		Action:      ActionPushDocument, // "" in a JAX-WS RI WSDL
		Version:     soap.V11,
		NewRequest:  func() any { return new(PushDocument) },
		NewResponse: func() any { return new(PushDocumentResponse) },
	})
}
